-- Optional: shards the schema by tenant on Citus. Without the citus extension this whole migration is a no-op,
-- so it runs unconditionally on plain Postgres, Neon and PGlite (tested in test/node/db/).
--
-- To use it: CREATE EXTENSION citus (and add worker nodes) before the migrations run; tables created by earlier
-- migrations are then distributed here, with their data, in one step. Every tenant-owned table is hash-distributed
-- on tenant_id and co-located with accounts (distributed on its id, which is the tenant id), so per-tenant
-- queries and foreign keys stay on one shard. phone_number_routes is looked up by number, not tenant: it becomes
-- a reference table (a copy on every node).
--
-- The append-only and immutability triggers only raise errors, so they are safe to run on shards; Citus needs
-- citus.enable_unsafe_triggers to accept triggers on distributed tables.
-- A new tenant-owned table added later needs its own distribution statement in a later migration
-- (test/node/db/citus-migration-is-a-no-op.test.ts fails until it has one).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
    PERFORM create_distributed_table('accounts', 'id');
    PERFORM create_distributed_table('users', 'tenant_id', colocate_with => 'accounts');
    PERFORM create_distributed_table('api_keys', 'tenant_id', colocate_with => 'accounts');
    -- agents and agent_versions reference each other; Citus distributes one table at a time and refuses a
    -- foreign key to a table that is not distributed yet, so the published-version key is re-added after both.
    ALTER TABLE agents DROP CONSTRAINT agents_published_version_fk;
    PERFORM create_distributed_table('agents', 'tenant_id', colocate_with => 'accounts');
    PERFORM create_distributed_table('agent_versions', 'tenant_id', colocate_with => 'accounts');
    ALTER TABLE agents ADD CONSTRAINT agents_published_version_fk
      FOREIGN KEY (tenant_id, published_version_id) REFERENCES agent_versions (tenant_id, id);
    PERFORM create_distributed_table('phone_numbers', 'tenant_id', colocate_with => 'accounts');
    PERFORM create_distributed_table('calls', 'tenant_id', colocate_with => 'accounts');
    PERFORM create_distributed_table('call_turns', 'tenant_id', colocate_with => 'accounts');
    PERFORM create_distributed_table('consent_records', 'tenant_id', colocate_with => 'accounts');
    PERFORM create_distributed_table('audit_log', 'tenant_id', colocate_with => 'accounts');
    PERFORM create_distributed_table('idempotency_keys', 'tenant_id', colocate_with => 'accounts');
    PERFORM create_reference_table('phone_number_routes');
  END IF;
END
$$;
