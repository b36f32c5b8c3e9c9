-- Call control (issue 5): where Citus is installed, the two new tenant-owned tables are distributed by tenant_id,
-- co-located with accounts, exactly like the tables in 0002_citus_distribution.sql. A no-op without Citus.
-- (The breakpoint keeps this block a statement of its own when the Citus migrations are replayed together.)
--> statement-breakpoint
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    PERFORM create_distributed_table('prompt_prefixes', 'tenant_id', colocate_with => 'accounts');
    PERFORM create_distributed_table('verifications', 'tenant_id', colocate_with => 'accounts');
  END IF;
END
$$;
