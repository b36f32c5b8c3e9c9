// Small builders that keep route definitions short and uniform.
import type { z } from "@hono/zod-openapi";
import type { Scope } from "../lib/scopes.ts";

export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return { required: true, ...(description ? { description } : {}), content: { "application/json": { schema } } };
}

export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** OpenAPI security requirement naming the scope the route's `authorize(scope)` enforces. */
export function needs(scope?: Scope) {
  return [{ bearerAuth: scope ? [scope] : [] }];
}
