// Database handles per jurisdiction for code that is not bound to one tenant's request (webhooks that start from
// a phone number, media-node fetches). The request's own handle is reused where it is the database asked for.
import { type DbHandle, openDb } from "../db/client.ts";
import type { Jurisdiction } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import { allDatabases, databaseUrlFor, type ResidencyBindings } from "./residency.ts";

export type DatabaseBindings = ResidencyBindings & { DB_WS_PROXY?: string | undefined };
type Bindings = DatabaseBindings;

// Which database a request's handle (or its transaction) talks to. After authorize() the request's handle is the
// tenant's home database, not necessarily DATABASE_URL, so "reuse it if the URL matches" needs to know its URL.
const urls = new WeakMap<Db, string>();

/** Records that `db` (a request handle or a transaction on it) talks to `url`. Returns `db`. */
export function rememberDatabaseUrl(db: Db, url: string): Db {
  urls.set(db, url);
  return db;
}

/** The URL `db` talks to; a handle nobody registered is taken to be DATABASE_URL's, as before residency. */
export function databaseUrlOf(env: Pick<ResidencyBindings, "DATABASE_URL">, db: Db): string {
  return urls.get(db) ?? env.DATABASE_URL;
}

/** Runs `fn` with one handle per distinct database, closing the ones opened here afterwards. */
export async function withEveryDatabase<T>(
  env: Bindings,
  requestDb: Db | undefined,
  fn: (dbs: Db[]) => Promise<T>,
): Promise<T> {
  const opened: DbHandle[] = [];
  const dbs = allDatabases(env).map(({ url }) => {
    if (requestDb && databaseUrlOf(env, requestDb) === url) return requestDb;
    const handle = openDb({ DATABASE_URL: url, DB_WS_PROXY: env.DB_WS_PROXY }, { max: 1 });
    opened.push(handle);
    return handle.db;
  });
  try {
    return await fn(dbs);
  } finally {
    await Promise.all(opened.map((h) => h.close().catch(() => undefined)));
  }
}

/** Runs `fn` with the database of one jurisdiction. */
export async function withJurisdictionDatabase<T>(
  env: Bindings,
  requestDb: Db | undefined,
  jurisdiction: Jurisdiction,
  fn: (db: Db) => Promise<T>,
): Promise<T> {
  const url = databaseUrlFor(env, jurisdiction);
  if (requestDb && databaseUrlOf(env, requestDb) === url) return fn(requestDb);
  const handle = openDb({ DATABASE_URL: url, DB_WS_PROXY: env.DB_WS_PROXY }, { max: 1 });
  try {
    return await fn(handle.db);
  } finally {
    await handle.close().catch(() => undefined);
  }
}
