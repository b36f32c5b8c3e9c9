// The Worker's view of shared/ids.ts: the ID generators, plus zod schemas for IDs arriving in paths and bodies
// (with an OpenAPI description), so every route rejects a malformed ID the same way before touching the database.
import { z } from "@hono/zod-openapi";
import {
  AccountIdSchema,
  accountIdFromData,
  ID_ALPHABET,
  isResourceId,
  type ResourceId,
  type ResourceKind,
} from "../../../shared/ids.ts";

export {
  type AccountId,
  isAccountId,
  newAccountId,
  newResourceId,
  newUserId,
  type ResourceId,
  type ResourceKind,
  type UserId,
} from "../../../shared/ids.ts";

const NOUNS: Record<ResourceKind, string> = {
  agt: "agent",
  agv: "agent version",
  num: "phone number",
  call: "call",
  turn: "call turn",
  key: "API key",
  cns: "consent record",
  aud: "audit entry",
  ver: "verification",
  req: "request",
  ses: "console session",
  pbk: "publishable key",
  dk: "data key",
  sec: "secret",
  we: "webhook endpoint",
  evt: "event",
  dlv: "webhook delivery",
  att: "delivery attempt",
};

/** A resource ID of one kind (`agt_…`). A wrong prefix or length is a 400, never a database lookup. */
export function resourceId<K extends ResourceKind>(kind: K) {
  return z
    .string()
    .refine((v): v is ResourceId<K> => isResourceId(kind, v), {
      message: `Expected ${NOUNS[kind]} ID like ${kind}_k3m29px47tn8q2w5hjzr`,
    })
    .openapi({ example: `${kind}_k3m29px47tn8q2w5hjzr`, pattern: `^${kind}_[${ID_ALPHABET.toLowerCase()}]{20}$` });
}

/**
 * An account ID (`AYB-XXXX-XXXX-XXXX`) including its check character: a mistyped one is a 400, not a 404.
 * `.meta()`, not `.openapi()`: zod 4 gives each schema its methods when it is created, and the shared schema may
 * have been created before @hono/zod-openapi added `.openapi` (it depends on which module is imported first).
 */
export const accountId = AccountIdSchema.meta({ example: accountIdFromData("K3M29PX47TN") });

/** Path parameter schema with the OpenAPI `in: path` annotation zod-openapi needs. */
export function pathParam<T extends z.ZodType>(name: string, schema: T) {
  return schema.openapi({ param: { name, in: "path" } });
}
