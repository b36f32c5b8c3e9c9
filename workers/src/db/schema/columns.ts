// Column helpers every table uses, and the jurisdictions a tenant can live in.
import { timestamp } from "drizzle-orm/pg-core";

// Millisecond precision, so a timestamp read back into a JS Date and sent out in a pagination cursor compares
// equal to the stored value (Postgres' default microseconds would make the cursor skip or repeat rows).
export const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: "date" });
export const createdAt = () => ts("created_at").notNull().defaultNow();

export const JURISDICTIONS = ["us", "eu"] as const;
export type Jurisdiction = (typeof JURISDICTIONS)[number];
