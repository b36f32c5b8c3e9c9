// Properties over every JSON body the tenant API reads (every operation in the OpenAPI document with a request
// body, so a new route is covered the day it is added): random JSON is answered with a 4xx problem+json, never a
// 5xx, and a body that cannot be valid changes nothing in the tenant's data.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { call, createAgent, type Json, signUp, tenantFingerprint } from "./helpers.ts";

const RUNS = 6;

type Operation = { method: string; path: string; properties: string[] };
type SchemaObject = { $ref?: string; properties?: Record<string, unknown>; allOf?: SchemaObject[] };

function propertiesOf(doc: Json, schema: SchemaObject | undefined, depth = 0): string[] {
  if (!schema || depth > 4) return [];
  if (schema.$ref) {
    const name = schema.$ref.split("/").pop() ?? "";
    const components = (doc.components as { schemas?: Record<string, SchemaObject> } | undefined)?.schemas ?? {};
    return propertiesOf(doc, components[name], depth + 1);
  }
  return [
    ...Object.keys(schema.properties ?? {}),
    ...(schema.allOf ?? []).flatMap((part) => propertiesOf(doc, part, depth + 1)),
  ];
}

function bodyOperations(doc: Json): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(item)) {
      const body = (op.requestBody as { content?: Record<string, { schema?: SchemaObject }> } | undefined)?.content;
      const schema = body?.["application/json"]?.schema;
      if (schema) out.push({ method: method.toUpperCase(), path, properties: propertiesOf(doc, schema) });
    }
  }
  return out;
}

/** JSON no schema of ours accepts: not an object, or an object of nothing but unknown fields. */
const neverValid = fc.oneof(
  fc.array(fc.jsonValue(), { maxLength: 4 }),
  fc.string(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.dictionary(
    fc.string({ minLength: 1, maxLength: 12 }).map((k) => `zz_${k}`),
    fc.jsonValue(),
    { minKeys: 1, maxKeys: 4 },
  ),
);

/** The operation's own field names, with any JSON in them. */
const shaped = (properties: string[]) =>
  properties.length === 0
    ? fc.constant({})
    : fc.dictionary(fc.constantFrom(...properties), fc.jsonValue({ maxDepth: 2 }), { maxKeys: properties.length });

describe("every API body", () => {
  it("answers random JSON with a 4xx problem+json, never a 5xx, and an impossible body writes nothing", async () => {
    const tenant = await signUp("Fuzzed");
    const agent = await createAgent(tenant);
    const number = await call<{ id: string }>("POST", "/v1/phone-numbers", {
      key: tenant.key,
      body: { e164: "+14155550142", provider: "twilio" },
    });
    const ids: Record<string, string> = {
      agentId: agent.id,
      phoneNumberId: number.body.id,
      accountId: tenant.accountId,
      apiKeyId: tenant.keyId,
    };
    const doc = (await call("GET", "/v1/openapi.json")).body;
    const operations = bodyOperations(doc);
    expect(operations.length).toBeGreaterThanOrEqual(10);
    const before = await tenantFingerprint(tenant.accountId);

    const send = async (op: Operation, body: unknown) => {
      const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => ids[name] ?? "zz-unknown");
      const reply = await call(op.method, `/v1${path.replace(/^\/v1/, "")}`, {
        key: tenant.key,
        body: JSON.stringify(body),
      });
      const what = `${op.method} ${op.path} ${JSON.stringify(body).slice(0, 200)} → ${reply.status}`;
      expect(reply.status, what).toBeLessThan(500);
      if (reply.status >= 400) expect(reply.headers.get("content-type"), what).toContain("application/problem+json");
      return reply.status;
    };

    for (const op of operations) {
      await fc.assert(
        fc.asyncProperty(neverValid, async (body) => {
          const status = await send(op, body);
          expect(
            status,
            `${op.method} ${op.path} accepted ${JSON.stringify(body).slice(0, 200)}`,
          ).toBeGreaterThanOrEqual(400);
        }),
        { numRuns: RUNS },
      );
    }
    expect(await tenantFingerprint(tenant.accountId)).toBe(before);

    for (const op of operations) {
      await fc.assert(
        fc.asyncProperty(shaped(op.properties), async (body) => {
          await send(op, body);
        }),
        { numRuns: RUNS },
      );
    }
  }, 120_000);
});
