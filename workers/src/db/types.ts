// The database handle every route and repository takes. Whichever driver made it (Neon in the Worker, pg or
// PGlite in Node), and whether it is a transaction or not, it has this type, so code that queries never cares.
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type * as schema from "./schema.ts";

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
