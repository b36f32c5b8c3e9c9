// Tenant isolation. Walks every operation of the OpenAPI document as tenant B, using tenant A's IDs wherever an
// ID goes (path or body): each must be a 404 (never a 403, which would confirm the ID exists) and neither
// tenant's data may change (B's audit log may note its refused attempt, nothing more). Lists must not show A's
// resources to B. An operation added to the API without an entry here fails the coverage test, so new routes
// cannot skip this check.
import { beforeAll, describe, expect, it } from "vitest";
import { verifications, webhookDeliveries, webhookEvents } from "../../workers/src/db/schema.ts";
import { newResourceId } from "../../workers/src/lib/ids.ts";
import {
  auditActions,
  call,
  createAgent,
  seedCall,
  signUp,
  type Tenant,
  tenantFingerprint,
  withDb,
} from "./helpers.ts";

type Operation = { method: string; path: string };
type Doc = { paths: Record<string, Record<string, unknown>> };

const METHODS = ["get", "post", "put", "patch", "delete"];

/** Operations that take no ID at all (they only create in the caller's own account): nothing to cross. */
const NO_FOREIGN_INPUT = new Set([
  "POST /v1/accounts",
  "POST /v1/agents",
  "POST /v1/api-keys",
  "POST /v1/consent",
  // Console sessions and users: sign-in names an e-mail, sign-out and the current session are the caller's own.
  "POST /v1/sessions",
  "POST /v1/sessions/current/revoke",
  "POST /v1/users",
  "POST /v1/webhook-endpoints",
  "POST /v1/secrets",
  "POST /v1/tool-signing-secret/rotate",
]);

/** GETs without a path ID that are not lists: the caller's own console session (API keys have none). */
const NOT_LISTS = new Set(["GET /v1/sessions/current"]);

/** Bodies that pass validation, so a 404 can only come from the tenant check. */
function bodyFor(op: string, a: AIds): unknown {
  switch (op) {
    case "PATCH /v1/agents/{agentId}":
      return { name: "taken over", config: { systemPrompt: "leak everything" }, publish: true };
    case "POST /v1/agents/{agentId}/publish":
      return { version: 1 };
    case "PATCH /v1/phone-numbers/{phoneNumberId}":
      return { agentId: null };
    case "POST /v1/phone-numbers":
      return { e164: "+16505550147", provider: "twilio", agentId: a.agentId };
    case "PATCH /v1/accounts/{accountId}":
      return { callingHours: { start: "09:00", end: "17:00" } };
    case "POST /v1/calls":
      return { agentId: a.agentId, to: "+14155550123", from: "+16505550100", purpose: "service" };
    case "POST /v1/verify":
      return { accountId: a.accountId };
    case "POST /v1/verify/{verificationId}/check":
      return { code: "123456" };
    case "POST /v1/web-calls":
      return { agentId: a.agentId };
    case "POST /v1/publishable-keys":
      return { agentId: a.agentId, allowedOrigins: ["https://b.example"] };
    case "PATCH /v1/webhook-endpoints/{endpointId}":
      return { url: "https://attacker.example/hook", enabled: true };
    case "PUT /v1/secrets/{secretId}/value":
      return { value: "a-value-long-enough-to-store" };
    default:
      return undefined;
  }
}

type AIds = {
  accountId: string;
  agentId: string;
  version: string;
  phoneNumberId: string;
  callId: string;
  consentId: string;
  apiKeyId: string;
  verificationId: string;
  publishableKeyId: string;
  endpointId: string;
  deliveryId: string;
  secretId: string;
};

let a: Tenant;
let b: Tenant;
let ids: AIds;
let operations: Operation[];

beforeAll(async () => {
  a = await signUp("Tenant A");
  b = await signUp("Tenant B");
  const agent = await createAgent(a, { publish: true });
  const num = await call<{ id: string }>("POST", "/v1/phone-numbers", {
    key: a.key,
    body: { e164: "+16505550100", provider: "twilio", agentId: agent.id },
  });
  const consent = await call<{ id: string }>("POST", "/v1/consent", {
    key: a.key,
    body: { phoneNumber: "+16505550111", type: "marketing", verificationMethod: "checkbox" },
  });
  const key = await call<{ id: string }>("POST", "/v1/api-keys", {
    key: a.key,
    body: { name: "second", scopes: ["agents:read"] },
  });
  const pk = await call<{ id: string }>("POST", "/v1/publishable-keys", {
    key: a.key,
    body: { agentId: agent.id, allowedOrigins: ["https://a.example"] },
  });
  const callId = await seedCall(a.accountId, { agentId: agent.id }, [{ text: "hello from A" }]);
  const verificationId = newResourceId("ver");
  await withDb((db) =>
    db.insert(verifications).values({
      tenantId: a.accountId,
      id: verificationId,
      accountId: a.accountId,
      phoneMasked: "+1••••••0100",
      codeHash: "0".repeat(64),
      salt: "0".repeat(32),
      status: "pending",
      expiresAt: new Date(Date.now() + 300_000),
    }),
  );
  const endpoint = await call<{ id: string }>("POST", "/v1/webhook-endpoints", {
    key: a.key,
    body: { url: "https://a.example/hooks", events: ["call.ended"] },
  });
  const secret = await call<{ id: string }>("POST", "/v1/secrets", {
    key: a.key,
    body: { kind: "generic", name: "crm token", value: "crm-token-of-tenant-a-0001" },
  });
  // A failed delivery, so B can try to resend it.
  const eventId = newResourceId("evt");
  const deliveryId = newResourceId("dlv");
  await withDb(async (db) => {
    await db.insert(webhookEvents).values({ tenantId: a.accountId, id: eventId, type: "call.ended", body: "{}" });
    await db.insert(webhookDeliveries).values({
      tenantId: a.accountId,
      id: deliveryId,
      endpointId: endpoint.body.id,
      eventId,
      eventType: "call.ended",
      status: "failed",
    });
  });
  ids = {
    endpointId: endpoint.body.id,
    deliveryId,
    secretId: secret.body.id,
    accountId: a.accountId,
    agentId: agent.id,
    version: "1",
    phoneNumberId: num.body.id,
    callId,
    consentId: consent.body.id,
    apiKeyId: key.body.id,
    verificationId,
    publishableKeyId: pk.body.id,
  };
  // B gets resources of its own, so "not found" is not just "B has nothing".
  await createAgent(b);
  await call("POST", "/v1/consent", {
    key: b.key,
    body: { phoneNumber: "+16505550122", type: "service", verificationMethod: "voice" },
  });
  await call("POST", "/v1/webhook-endpoints", { key: b.key, body: { url: "https://b.example/hooks" } });
  await call("POST", "/v1/tool-signing-secret/rotate", { key: b.key });

  const doc = (await call<Doc>("GET", "/v1/openapi.json")).body;
  operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => m in item).map((method) => ({ method: method.toUpperCase(), path })),
  );
});

const name = (op: Operation) => `${op.method} ${op.path}`;
const hasPathId = (op: Operation) => op.path.includes("{");
const isList = (op: Operation) => op.method === "GET" && !hasPathId(op) && !NOT_LISTS.has(name(op));
const fill = (path: string) =>
  path.replaceAll(/\{(\w+)\}/g, (_, p: string) => {
    const v = ids[p as keyof AIds];
    if (!v) throw new Error(`no ID of tenant A for path parameter ${p}`);
    return v;
  });

describe("tenant isolation", () => {
  it("covers every operation of the API", () => {
    const unclassified = operations.filter(
      (op) =>
        !hasPathId(op) &&
        !isList(op) &&
        !NOT_LISTS.has(name(op)) &&
        !NO_FOREIGN_INPUT.has(name(op)) &&
        bodyFor(name(op), ids) === undefined,
    );
    expect(unclassified.map(name)).toEqual([]);
    expect(operations.length).toBeGreaterThan(15);
  });

  it("answers 404 to every operation on another tenant's ID and changes nothing", async () => {
    const targets = operations.filter((op) => hasPathId(op) || bodyFor(name(op), ids) !== undefined);
    const beforeA = await tenantFingerprint(a.accountId);
    // B's own audit trail is checked apart: it may record B's refused attempt, and nothing else.
    const beforeB = await tenantFingerprint(b.accountId, { omit: ["audit_log"] });
    const auditedB = (await auditActions(b.accountId)).length;
    const outcomes: string[] = [];
    for (const op of targets) {
      const r = await call<{ type?: string }>(op.method, fill(op.path), { key: b.key, body: bodyFor(name(op), ids) });
      outcomes.push(`${name(op)} → ${r.status} ${r.headers.get("content-type")}`);
      const afterA = await tenantFingerprint(a.accountId);
      const afterB = await tenantFingerprint(b.accountId, { omit: ["audit_log"] });
      expect.soft(afterA, `${name(op)} changed tenant A`).toBe(beforeA);
      expect.soft(afterB, `${name(op)} changed tenant B`).toBe(beforeB);
    }
    expect(outcomes).toEqual(targets.map((op) => `${name(op)} → 404 application/problem+json`));
    // Starting a verification of an account B may not see is a refusal B's log keeps (guessing account IDs over a
    // support line is what that log is for), worded as the 404 was: the account is unknown, not someone else's.
    expect((await auditActions(b.accountId)).slice(auditedB)).toEqual(["verification.unknown-account"]);
  });

  it("attaching another tenant's agent to one's own number is a 404 too", async () => {
    const own = await call<{ id: string }>("POST", "/v1/phone-numbers", {
      key: b.key,
      body: { e164: "+16505550188", provider: "telnyx" },
    });
    const before = await tenantFingerprint(b.accountId);
    const r = await call("PATCH", `/v1/phone-numbers/${own.body.id}`, { key: b.key, body: { agentId: ids.agentId } });
    expect(r.status).toBe(404);
    expect(await tenantFingerprint(b.accountId)).toBe(before);
  });

  it("never lists another tenant's resources", async () => {
    const lists = operations.filter(isList);
    expect(lists.length).toBeGreaterThanOrEqual(5);
    const foreign = Object.entries(ids).filter(([k]) => k !== "version");
    for (const op of lists) {
      const r = await call<{ data: unknown[] }>("GET", op.path, { key: b.key });
      expect(r.status, name(op)).toBe(200);
      const text = JSON.stringify(r.body);
      for (const [kind, id] of foreign) expect.soft(text, `${name(op)} shows A's ${kind}`).not.toContain(id);
    }
  });

  it("still serves tenant A its own resources (the IDs used above are real)", async () => {
    for (const op of operations.filter((o) => o.method === "GET" && hasPathId(o))) {
      const r = await call("GET", fill(op.path), { key: a.key });
      expect.soft(r.status, name(op)).toBe(200);
    }
  });
});
