-- Tenant secrets and event webhooks (issue 13): where Citus is installed, the new tenant-owned tables are distributed
-- by tenant_id, co-located with accounts, like every other tenant table. A no-op without Citus.
--> statement-breakpoint
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    PERFORM create_distributed_table('tenant_data_keys', 'tenant_id', colocate_with => 'accounts');
    PERFORM create_distributed_table('tenant_secrets', 'tenant_id', colocate_with => 'accounts');
    PERFORM create_distributed_table('secret_decryptions', 'tenant_id', colocate_with => 'accounts');
    PERFORM create_distributed_table('webhook_endpoints', 'tenant_id', colocate_with => 'accounts');
    PERFORM create_distributed_table('webhook_events', 'tenant_id', colocate_with => 'accounts');
    PERFORM create_distributed_table('webhook_deliveries', 'tenant_id', colocate_with => 'accounts');
    PERFORM create_distributed_table('webhook_attempts', 'tenant_id', colocate_with => 'accounts');
  END IF;
END
$$;
