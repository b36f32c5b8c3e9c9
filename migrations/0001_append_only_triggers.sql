-- Rules the application must never be able to break, enforced by the database itself.
-- audit_log is append-only: UPDATE, DELETE and TRUNCATE are rejected for every role (only a migration that drops
-- the trigger could lift it). agent_versions are immutable: UPDATE is rejected (DELETE stays possible for tenant erasure).
CREATE FUNCTION aybiza_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% on % is not allowed: rows are %', TG_OP, TG_TABLE_NAME, TG_ARGV[0]
    USING ERRCODE = 'raise_exception';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER audit_log_append_only
  BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION aybiza_reject_change('append-only');
--> statement-breakpoint
CREATE TRIGGER audit_log_no_truncate
  BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION aybiza_reject_change('append-only');
--> statement-breakpoint
CREATE TRIGGER agent_versions_immutable
  BEFORE UPDATE ON agent_versions
  FOR EACH ROW EXECUTE FUNCTION aybiza_reject_change('immutable');
