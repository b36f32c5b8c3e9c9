import { exports } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { AgentRuntimeConfigSchema } from "../../../shared/agent-config.ts";
import { importCallTokenVerifier } from "../../../shared/call-token.ts";
import { callTurns, promptPrefixes } from "../../../workers/src/db/schema.ts";
import { call, createAgent, signUp, withDb } from "../helpers.ts";
import {
  EDGE,
  edge,
  heartbeat,
  nodeRequest,
  parseStreamTwiml,
  seedTenantWithNumber,
  testBindings,
  twilioPost,
  voiceParams,
} from "./fixtures.ts";

async function routedCall() {
  expect((await heartbeat("us-east-1")).status).toBe(200);
  const tenant = await seedTenantWithNumber();
  const reply = await twilioPost("/v1/telephony/twilio/voice", voiceParams(tenant.number));
  const stream = parseStreamTwiml(reply.body);
  if (!stream) throw new Error(`no stream in ${reply.body}`);
  const verifier = await importCallTokenVerifier({
    [testBindings.CALL_TOKEN_KID ?? ""]: testBindings.TEST_CALL_TOKEN_PUBLIC_KEY ?? "",
  });
  const verified = await verifier.verify(stream.parameters.token ?? "");
  if (!verified.ok) throw new Error(verified.message);
  return { tenant, callId: stream.parameters.callId ?? "", claims: verified.claims };
}

describe("media node heartbeats", () => {
  it("are accepted only signed by the node they describe", async () => {
    const beat = {
      nodeId: "node-test-2",
      region: "us-west-2",
      streamBaseUrl: "wss://n2.example.com",
      activeCalls: 0,
      capacity: 8,
      draining: false,
      sentAt: Date.now(),
    };
    const unsigned = await exports.default.fetch(`${EDGE}/v1/media-nodes/heartbeat`, {
      method: "POST",
      body: JSON.stringify(beat),
    });
    expect(unsigned.status).toBe(401);
    expect((await nodeRequest("POST", "/v1/media-nodes/heartbeat", beat, "node-test-1")).status).toBe(403);
    expect(
      (await nodeRequest("POST", "/v1/media-nodes/heartbeat", { ...beat, region: "mars-1" }, "node-test-2")).status,
    ).toBe(400);
    expect((await nodeRequest("POST", "/v1/media-nodes/heartbeat", beat, "node-test-2")).status).toBe(200);
  });
});

describe("session events from media nodes", () => {
  it("move the call and land its turns in Postgres", async () => {
    const { tenant, callId, claims } = await routedCall();
    const at = Date.now();
    const events = [
      {
        type: "call.started",
        callId,
        seq: 0,
        tenantId: claims.tenantId,
        agentId: claims.agentId,
        agentVersion: claims.agentVersion,
        region: claims.region,
        nodeId: "node-test-1",
        transport: "twilio",
        carrier: {},
        at,
      },
      {
        type: "turn",
        callId,
        seq: 1,
        index: 0,
        userText: "",
        assistantText: "Hello!",
        generatedText: "Hello!",
        interrupted: false,
        thinking: false,
        tools: [],
        modelIds: ["m"],
        usage: { inputTokens: 10, outputTokens: 2, cacheReadInputTokens: 0, cacheWriteInputTokens: 10 },
        waterfall: {},
        at,
      },
      {
        type: "turn",
        callId,
        seq: 2,
        index: 1,
        userText: "Hi there",
        assistantText: "How can I help?",
        generatedText: "How can I help?",
        interrupted: false,
        thinking: false,
        tools: [],
        modelIds: ["m"],
        usage: { inputTokens: 12, outputTokens: 4, cacheReadInputTokens: 10, cacheWriteInputTokens: 0 },
        waterfall: { speechEndAt: at - 500, firstAudioOutAt: at },
        at,
      },
      { type: "call.ended", callId, seq: 3, reason: "caller-hung-up", durationMs: 9_000, turns: 2, at },
    ];
    for (const event of events)
      expect((await nodeRequest("POST", `/v1/calls/${callId}/events`, event)).status).toBe(202);
    // A redelivered event is accepted and changes nothing.
    expect((await nodeRequest("POST", `/v1/calls/${callId}/events`, events[2])).status).toBe(202);

    await edge.CALL_LEDGER.getByName(callId).flushOutbox();
    const rows = await withDb((db) =>
      db
        .select({ turnIndex: callTurns.turnIndex, speaker: callTurns.speaker, text: callTurns.text })
        .from(callTurns)
        .where(and(eq(callTurns.tenantId, tenant.tenantId), eq(callTurns.callId, callId)))
        .orderBy(callTurns.turnIndex, callTurns.speaker),
    );
    expect(rows).toEqual([
      { turnIndex: 0, speaker: "agent", text: "Hello!" },
      { turnIndex: 1, speaker: "agent", text: "How can I help?" },
      { turnIndex: 1, speaker: "caller", text: "Hi there" },
    ]);
  });

  it("are refused unsigned, malformed, for another call, or for an unknown call", async () => {
    const { callId } = await routedCall();
    const ended = {
      type: "call.ended",
      callId,
      seq: 9,
      reason: "caller-hung-up",
      durationMs: 1,
      turns: 0,
      at: Date.now(),
    };
    const unsigned = await exports.default.fetch(`${EDGE}/v1/calls/${callId}/events`, {
      method: "POST",
      body: JSON.stringify(ended),
    });
    expect(unsigned.status).toBe(401);
    expect((await nodeRequest("POST", `/v1/calls/${callId}/events`, { ...ended, reason: "bored" })).status).toBe(400);
    expect((await nodeRequest("POST", `/v1/calls/${callId}/events`, { ...ended, callId: "call_other" })).status).toBe(
      400,
    );
    const unknown = "call_k3m29px47tn8q2w5hjzr";
    expect((await nodeRequest("POST", `/v1/calls/${unknown}/events`, { ...ended, callId: unknown })).status).toBe(404);
  });
});

describe("prompt prefixes", () => {
  it("are stored when a version is published", async () => {
    const t = await signUp();
    const agent = await createAgent(t, { publish: true, config: { systemPrompt: "You book tables for a bistro." } });
    const rows = await withDb((db) => db.select().from(promptPrefixes).where(eq(promptPrefixes.tenantId, t.accountId)));
    expect(rows).toHaveLength(1);
    expect(rows[0]?.system).toBe("You book tables for a bistro.");
    expect(rows[0]?.hash).toMatch(/^[0-9a-f]{64}$/);
    // Unpublished edits store nothing new; publishing them does.
    await call("PATCH", `/v1/agents/${agent.id}`, {
      key: t.key,
      body: { config: { systemPrompt: "You book tables." } },
    });
    expect(
      await withDb((db) => db.select().from(promptPrefixes).where(eq(promptPrefixes.tenantId, t.accountId))),
    ).toHaveLength(1);
    await call("POST", `/v1/agents/${agent.id}/publish`, { key: t.key, body: { version: 2 } });
    expect(
      await withDb((db) => db.select().from(promptPrefixes).where(eq(promptPrefixes.tenantId, t.accountId))),
    ).toHaveLength(2);
  });

  it("are served to an authenticated node by the hash in the call token, with the agent's runtime config", async () => {
    const { claims, tenant } = await routedCall();
    const path = `/v1/media/prefixes/${claims.prefixHash}?tenant=${encodeURIComponent(claims.tenantId)}&agent=${claims.agentId}&version=${claims.agentVersion}`;
    const r = await nodeRequest("GET", path, undefined);
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toContain("immutable");
    const body = (await r.json()) as { prefix: { hash: string; system: string }; agent: unknown };
    expect(body.prefix.hash).toBe(claims.prefixHash);
    expect(body.prefix.system).toBe(tenant.systemPrompt);
    expect(AgentRuntimeConfigSchema.parse(body.agent)).toMatchObject({
      tenantId: tenant.tenantId,
      agentId: tenant.agentId,
      version: 1,
    });

    expect((await nodeRequest("GET", path.replace(claims.prefixHash, "f".repeat(64)), undefined)).status).toBe(409);
    expect((await exports.default.fetch(`${EDGE}${path}`)).status).toBe(401);
  });
});
