// The audit trail. Every write route calls audit() with its transaction's handle (c.var.db inside unitOfWork),
// so the entry commits or rolls back together with the change it describes.
import type { Context } from "hono";
import { type ActorType, auditLog } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import type { AppEnv } from "../env.ts";
import { newResourceId } from "./ids.ts";

export type AuditEntry = {
  /** `<resource>.<verb>`, e.g. `agent.update`, `api_key.revoke`. */
  action: string;
  targetType: string;
  targetId: string;
  /** For versioned resources, the version ID before and after the change. */
  beforeId?: string | null;
  afterId?: string | null;
};

export type Actor = { tenantId: string; type: ActorType; id: string | null };

/** The actor of an authenticated request: its API key, or the console user whose session it is. */
export function keyActor(c: Context<AppEnv>): Actor {
  const { tenantId, keyId, userId } = c.var.auth;
  return userId ? { tenantId, type: "user", id: userId } : { tenantId, type: "api_key", id: keyId };
}

export async function audit(c: Context<AppEnv>, entry: AuditEntry, actor: Actor = keyActor(c)): Promise<void> {
  await writeAudit(c.var.db, actor, entry, c.var.requestId);
}

/** The same entry outside a request's context (webhooks, media-node actions); `db` decides what it commits with. */
export async function writeAudit(db: Db, actor: Actor, entry: AuditEntry, requestId?: string | null): Promise<void> {
  await db.insert(auditLog).values({
    tenantId: actor.tenantId,
    id: newResourceId("aud"),
    actorType: actor.type,
    actorId: actor.id,
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId,
    beforeId: entry.beforeId ?? null,
    afterId: entry.afterId ?? null,
    requestId: requestId ?? null,
  });
}
