-- Post-call analysis and usage meters (issue 13): where Citus is installed, the two new tenant-owned tables are
-- distributed by tenant_id, co-located with accounts, like 0002_citus_distribution.sql. A no-op without Citus.
--> statement-breakpoint
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    PERFORM create_distributed_table('call_analyses', 'tenant_id', colocate_with => 'accounts');
    PERFORM create_distributed_table('call_usage', 'tenant_id', colocate_with => 'accounts');
  END IF;
END
$$;
