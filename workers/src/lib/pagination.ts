// Cursor pagination, newest first. The cursor is an opaque base64url token of the last row's (created_at, id);
// the next page is the rows strictly before it in (created_at DESC, id DESC) order, which an index on
// (tenant_id, created_at, id) answers without OFFSET scans and without skipping rows inserted meanwhile.
import { z } from "@hono/zod-openapi";
import { type SQL, sql } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import { ProblemError } from "./problem.ts";

export const MAX_PAGE_SIZE = 100;

export const pageQuery = {
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE)
    .default(20)
    .openapi({ param: { name: "limit", in: "query" }, description: `Page size, 1 to ${MAX_PAGE_SIZE}.` }),
  cursor: z
    .string()
    .max(200)
    .optional()
    .openapi({ param: { name: "cursor", in: "query" }, description: "`nextCursor` of the previous page." }),
};

export function pageOf<T extends z.ZodType>(item: T, name: string) {
  return z
    .object({
      data: z.array(item),
      nextCursor: z
        .string()
        .nullable()
        .openapi({ description: "Pass as `cursor` for the next page; null at the end." }),
    })
    .openapi(name);
}

type CursorPosition = { createdAt: Date; id: string };

const CursorSchema = z.object({ t: z.iso.datetime(), i: z.string().min(1).max(64) }).strict();

export function encodeCursor({ createdAt, id }: CursorPosition): string {
  const json = JSON.stringify({ t: createdAt.toISOString(), i: id });
  return btoa(json).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string): CursorPosition {
  try {
    const json = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    const { t, i } = CursorSchema.parse(JSON.parse(json));
    return { createdAt: new Date(t), id: i };
  } catch {
    throw new ProblemError("validation-error", "The cursor is not one this API returned.", {
      errors: [{ location: "query", pointer: "/cursor", detail: "Unknown cursor; pass nextCursor unchanged." }],
    });
  }
}

/** The WHERE fragment selecting rows after the cursor, or undefined for the first page. */
export function afterCursor(cursor: string | undefined, createdAt: AnyPgColumn, id: AnyPgColumn): SQL | undefined {
  if (!cursor) return undefined;
  const pos = decodeCursor(cursor);
  return sql`(${createdAt}, ${id}) < (${pos.createdAt.toISOString()}::timestamptz, ${pos.id})`;
}

/** Cuts the `limit + 1` rows a query fetched down to one page and its next cursor. */
export function toPage<Row extends CursorPosition, Out>(
  rows: Row[],
  limit: number,
  map: (row: Row) => Out,
): { data: Out[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { data: page.map(map), nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}
