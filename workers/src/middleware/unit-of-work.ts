import { and, eq, sql } from "drizzle-orm";
import type { Context, MiddlewareHandler } from "hono";
import { idempotencyKeys } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import type { AppEnv } from "../env.ts";
import { sha256Hex } from "../lib/crypto.ts";
import { ProblemError } from "../lib/problem.ts";
import { databaseUrlOf, rememberDatabaseUrl } from "../residency/databases.ts";

/** Thrown inside the transaction callback to roll back a request that ended in an error response. */
class Rollback extends Error {}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const REPLAYED_HEADERS = ["content-type", "location"];

/**
 * Runs the rest of a write request (validation, handler, audit entry) in one database transaction, with
 * `c.var.db` swapped for the transaction. A response of 400 or above rolls everything back, so a failed
 * request leaves no partial write.
 *
 * On POST with an `Idempotency-Key` header (authenticated routes), the key is claimed inside the same
 * transaction and the response stored with it: a retry gets the first response back (header
 * `idempotent-replayed: true`), a concurrent retry waits for the first to finish, the same key with a different
 * request is a 422. Failed requests are not stored (they roll back), so they can be retried with the same key.
 *
 * @example createRoute({ method: "post", ..., middleware: [authorize("agents:write"), unitOfWork()] })
 */
export const unitOfWork = ({
  retainHours = 24,
  redact = [],
}: {
  /** After this long a key may be reused for a new request. */
  retainHours?: number;
  /**
   * Top-level response fields never stored for replay (a secret shown once): a replay answers them as null, so the
   * database never holds a secret in plaintext, and a retry still does not repeat the write.
   */
  redact?: readonly string[];
} = {}): MiddlewareHandler<AppEnv> =>
  async function unitOfWork(c, next) {
    const idempotencyKey = c.req.method === "POST" ? c.req.header("idempotency-key") : undefined;
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new ProblemError("validation-error", "Idempotency-Key must be 1 to 255 visible ASCII characters.", {
        errors: [{ location: "header", pointer: "/idempotency-key", detail: "1 to 255 visible ASCII characters." }],
      });
    }
    // Sign-up has no tenant to store a key under, and replaying it would hand the new account's API key to
    // anyone who knows the Idempotency-Key, so it is only honoured on authenticated routes.
    const tenantId = idempotencyKey ? c.var.auth?.tenantId : undefined;

    // The tenant's home database when authorize() ran first (it must: route middleware runs in order).
    const outer = c.var.db;
    const url = databaseUrlOf(c.env, outer);
    const afterCommit: (() => Promise<void>)[] = [];
    c.set("afterCommit", afterCommit);
    let committed = false;
    try {
      await outer.transaction(async (tx) => {
        c.set("db", rememberDatabaseUrl(tx, url));
        let fingerprint = "";
        if (tenantId && idempotencyKey) {
          fingerprint = await fingerprintOf(c);
          const replay = await claim(tx, tenantId, idempotencyKey, fingerprint, retainHours);
          if (replay) {
            c.res = replay;
            return;
          }
        }
        await next();
        if (c.error || c.res.status >= 400) throw new Rollback();
        if (tenantId && idempotencyKey) {
          await tx
            .update(idempotencyKeys)
            .set({
              status: c.res.status,
              responseBody: redactBody(await c.res.clone().text(), redact),
              responseHeaders: pickHeaders(c.res.headers),
            })
            .where(and(eq(idempotencyKeys.tenantId, tenantId), eq(idempotencyKeys.key, idempotencyKey)));
        }
      });
      committed = true;
    } catch (err) {
      if (!(err instanceof Rollback)) throw err;
    } finally {
      c.set("db", outer);
    }
    // Side effects that must not happen for a write that rolled back (events to tenants' webhooks).
    if (committed) {
      for (const run of afterCommit) {
        await run().catch((error: unknown) => console.warn("after-commit step failed", { error: String(error) }));
      }
    }
  };

/** Runs `fn` once the request's transaction has committed (never when it rolls back). */
export function afterCommit(c: Context<AppEnv>, fn: () => Promise<void>): void {
  const steps = c.var.afterCommit;
  if (!steps) throw new Error("afterCommit() outside unitOfWork()");
  steps.push(fn);
}

function redactBody(text: string, fields: readonly string[]): string {
  if (fields.length === 0) return text;
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    for (const field of fields) if (field in body) body[field] = null;
    return JSON.stringify(body);
  } catch {
    return text;
  }
}

/** Claims the key for this request, or returns the stored response of the request that claimed it first. */
async function claim(
  tx: Db,
  tenantId: string,
  key: string,
  fingerprint: string,
  retainHours: number,
): Promise<Response | undefined> {
  // A conflicting insert blocks until the other transaction ends; then DO UPDATE takes over only an expired key.
  const claimed = await tx
    .insert(idempotencyKeys)
    .values({ tenantId, key, fingerprint })
    .onConflictDoUpdate({
      target: [idempotencyKeys.tenantId, idempotencyKeys.key],
      set: { fingerprint, status: null, responseBody: null, responseHeaders: null, createdAt: sql`now()` },
      setWhere: sql`${idempotencyKeys.createdAt} < now() - make_interval(hours => ${retainHours})`,
    })
    .returning({ key: idempotencyKeys.key });
  if (claimed.length > 0) return undefined;

  const [prior] = await tx
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.tenantId, tenantId), eq(idempotencyKeys.key, key)));
  if (!prior || prior.status === null || prior.responseBody === null) {
    throw new ProblemError("idempotency-key-in-use", "A request with this Idempotency-Key is still in progress.");
  }
  if (prior.fingerprint !== fingerprint) {
    throw new ProblemError(
      "idempotency-key-reused",
      "This Idempotency-Key was used for a different request (method, path or body differ). Use a new key.",
    );
  }
  return new Response(prior.responseBody, {
    status: prior.status,
    headers: { ...(prior.responseHeaders ?? {}), "idempotent-replayed": "true" },
  });
}

async function fingerprintOf(c: Context<AppEnv>): Promise<string> {
  const body = await c.req.text();
  return sha256Hex(`${c.req.method} ${new URL(c.req.url).pathname}\n${body}`);
}

function pickHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of REPLAYED_HEADERS) {
    const value = headers.get(name);
    if (value !== null) out[name] = value;
  }
  return out;
}
