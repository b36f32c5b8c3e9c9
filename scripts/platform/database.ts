// The platform's database: the Postgres in DATABASE_URL, migrated, or PGlite in this process served on loopback TCP
// so the Worker's driver (through the db proxy) reaches it like any Postgres.
import { type NodeDb, openNodeDb, type Served, servePglite } from "../../workers/src/db/node.ts";
import { LOOPBACK, PlatformError, rel } from "./processes.ts";

export async function startDatabase(o: {
  externalDb: string | undefined;
  pgliteDir: string;
  port: number;
}): Promise<{ url: string; description: string; stop: () => Promise<void> }> {
  let node: NodeDb;
  try {
    node = await openNodeDb({ url: o.externalDb, pgliteDir: o.pgliteDir });
    await node.migrate();
  } catch (err) {
    throw new PlatformError(
      `the database could not be opened and migrated: ${(err as Error).message}${o.externalDb ? " (check DATABASE_URL)" : ` (delete ${rel(o.pgliteDir)} to start over)`}`,
    );
  }
  if (!node.pglite) {
    await node.close();
    return {
      url: o.externalDb ?? "",
      description: `${redact(o.externalDb ?? "")} (DATABASE_URL, migrated)`,
      stop: async () => {},
    };
  }
  let served: Served;
  try {
    served = await servePglite(node.pglite, { host: LOOPBACK, port: o.port });
  } catch (err) {
    await node.close();
    throw err;
  }
  return {
    url: served.url,
    description: `${served.url}   (PGlite, data in ${o.pgliteDir.startsWith("memory://") ? "memory" : rel(o.pgliteDir)})`,
    // Closing PGlite flushes it to disk; the server goes first so no query is cut off mid-write.
    stop: async () => {
      await served.stop();
      await node.close();
    },
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
