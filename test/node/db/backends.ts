// The two database backends every Node-side DB test runs against: a fresh database on the real PostgreSQL server
// (dropped afterwards) and an in-memory PGlite. Both are migrated with the project's migrations.
import { sql } from "drizzle-orm";
import { createScratchDatabase, type NodeDb, openNodeDb } from "../../../workers/src/db/node.ts";

export const POSTGRES_SERVER = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export type Backend = { name: "postgres" | "pglite"; open: () => Promise<NodeDb & { dispose: () => Promise<void> }> };

export const backends: Backend[] = [
  {
    name: "postgres",
    open: async () => {
      const scratch = await createScratchDatabase(POSTGRES_SERVER);
      const node = await openNodeDb({ url: scratch.url });
      return {
        ...node,
        dispose: async () => {
          await node.close();
          await scratch.drop();
        },
      };
    },
  },
  {
    name: "pglite",
    open: async () => {
      const node = await openNodeDb({ url: "", pgliteDir: "memory://" });
      return { ...node, dispose: () => node.close() };
    },
  },
];

/** Rows of a raw query; node-postgres and PGlite both return `{ rows }`. */
export async function rows<T>(node: NodeDb, query: ReturnType<typeof sql>): Promise<T[]> {
  const result = (await node.db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

export { sql };
