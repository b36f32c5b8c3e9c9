-- Console (issue 12): where Citus is installed, the two new tenant-owned tables are distributed by tenant_id,
-- co-located with accounts, like 0002/0004. sign_in_failures is global (keyed by e-mail or IP, before a tenant
-- is known) and short-lived, so it stays a local table on the coordinator. A no-op without Citus.
--> statement-breakpoint
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    PERFORM create_distributed_table('console_sessions', 'tenant_id', colocate_with => 'accounts');
    PERFORM create_distributed_table('publishable_keys', 'tenant_id', colocate_with => 'accounts');
  END IF;
END
$$;
