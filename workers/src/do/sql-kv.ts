// A synchronous key-value store in a Durable Object's own SQLite database: what `ctx.storage.kv` offers, without
// its cost. In workerd 1.20260426 (wrangler 4.86.0, Miniflare 4.20260426.0) the first touch of `ctx.storage.kv`
// keeps the object's storage, its SqlStorage and its SQLite database handle alive after the object is evicted:
// one per call for CallLedger, so the edge's memory grew with every call and never came down. The soak found it
// (docs/reliability.md, "Memory over time"); test/node/platform/evicted-call-ledgers-release-their-storage.test.ts
// keeps it from coming back.
//
// Values are JSON (what the objects store is plain data). Objects written by earlier code kept their values in
// `ctx.storage.kv`; `migrateFrom` copies them once, so only those objects ever touch it.

export class SqlKv {
  constructor(private readonly sql: SqlStorage) {}

  /** Creates the table; true when it did not exist yet (the object is new, or was written by earlier code). */
  static open(sql: SqlStorage): { kv: SqlKv; created: boolean } {
    const existed =
      sql.exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'kv'").one().n >
      0;
    if (!existed) sql.exec("CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    return { kv: new SqlKv(sql), created: !existed };
  }

  get<T>(key: string): T | undefined {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM kv WHERE key = ?", key).toArray()[0];
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  put(key: string, value: unknown): void {
    this.sql.exec(
      "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      JSON.stringify(value),
    );
  }

  delete(key: string): boolean {
    return this.sql.exec("DELETE FROM kv WHERE key = ?", key).rowsWritten > 0;
  }

  /** Copies `keys` from the legacy `ctx.storage.kv` (read through `legacy`), for an object that predates SqlKv. */
  migrateFrom(legacy: () => { get(key: string): unknown }, keys: readonly string[]): void {
    const old = legacy();
    for (const key of keys) {
      const value = old.get(key);
      if (value !== undefined) this.put(key, value);
    }
  }
}
