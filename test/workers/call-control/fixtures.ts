// Shared builders for the call-control workerd suites.
import { env, exports } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { DEFAULT_MODEL_POLICY } from "../../../shared/agent-config.ts";
import { newAccountId, newResourceId } from "../../../shared/ids.ts";
import { signNodeRequest } from "../../../shared/media-node-auth.ts";
import type {
  AgentTextHeardEvent,
  CallerTurnFinalEvent,
  SessionEvent,
  TurnEvent,
} from "../../../shared/session-events.ts";
import type { CallControlEnv } from "../../../workers/src/call-control-env.ts";
import { openDb } from "../../../workers/src/db/client.ts";
import { accounts, agents, agentVersions, phoneNumberRoutes, phoneNumbers } from "../../../workers/src/db/schema.ts";
import type { Db } from "../../../workers/src/db/types.ts";
import type { CallRecord } from "../../../workers/src/do/call-ledger/records.ts";
import { call, createAgent, signUp, type Tenant } from "../helpers.ts";

export const edge = env as unknown as CallControlEnv;

export async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const { db, close } = openDb(edge);
  try {
    return await fn(db);
  } finally {
    await close();
  }
}

/** A tenant row straight in the database (the API's sign-up is tested elsewhere). */
export async function seedTenant(over: { plan?: string; jurisdiction?: "us" | "eu" } = {}): Promise<string> {
  const id = newAccountId();
  await withDb((db) =>
    db
      .insert(accounts)
      .values({ id, name: "Test tenant", jurisdiction: over.jurisdiction ?? "us", plan: over.plan ?? "free" }),
  );
  return id;
}

export function callRecord(tenantId: string, over: Partial<CallRecord> = {}): CallRecord {
  return {
    callId: newResourceId("call"),
    tenantId,
    jurisdiction: "us",
    plan: "free",
    direction: "inbound",
    fromNumber: "+14155550100",
    toNumber: "+14155550199",
    agentId: null,
    agentVersionId: null,
    agentVersion: 1,
    prefixHash: "a".repeat(64),
    provider: "twilio",
    providerCallSid: `CA${"0".repeat(32)}`,
    region: "us-east-1",
    nodeId: "node-1",
    status: "ringing",
    createdAt: Date.now(),
    answeredAt: null,
    endedAt: null,
    endReason: null,
    ...over,
  };
}

export function started(record: CallRecord, seq = 0): SessionEvent {
  return {
    type: "call.started",
    callId: record.callId,
    seq,
    tenantId: record.tenantId,
    agentId: record.agentId ?? "agt_none",
    agentVersion: record.agentVersion ?? 1,
    region: "us-east-1",
    nodeId: "node-1",
    transport: "twilio",
    carrier: {},
    at: Date.now(),
  };
}

export function turn(record: CallRecord, index: number, seq: number, over: Partial<TurnEvent> = {}): TurnEvent {
  const now = Date.now();
  return {
    type: "turn",
    callId: record.callId,
    seq,
    index,
    userText: index === 0 ? "" : `caller words ${index}`,
    assistantText: `agent reply ${index}`,
    generatedText: `agent reply ${index}`,
    interrupted: false,
    thinking: false,
    tools: [],
    modelIds: ["us.anthropic.claude-haiku-4-5-20251001-v1:0"],
    usage: { inputTokens: 100, outputTokens: 10, cacheReadInputTokens: 90, cacheWriteInputTokens: 0 },
    waterfall: {
      speechEndAt: now - 900,
      sttFinalAt: now - 800,
      llmFirstTokenAt: now - 500,
      firstAudioOutAt: now - 100,
    },
    at: now,
    ...over,
  };
}

/** Checkpoint: the caller's final words of turn `index`. */
export function callerFinal(record: CallRecord, index: number, seq: number, text: string): CallerTurnFinalEvent {
  return { type: "turn.caller-final", callId: record.callId, seq, index, text, at: Date.now() };
}

/** Checkpoint: the agent's reply of turn `index` as heard up to a mark. */
export function agentHeard(record: CallRecord, index: number, seq: number, text: string): AgentTextHeardEvent {
  return { type: "turn.agent-heard", callId: record.callId, seq, index, text, mark: `m${seq}`, at: Date.now() };
}

export function ended(record: CallRecord, seq: number, turns: number): SessionEvent {
  return {
    type: "call.ended",
    callId: record.callId,
    seq,
    reason: "caller-hung-up",
    durationMs: 30_000,
    turns,
    at: Date.now(),
  };
}

// ── Tenants with numbers and agents, media nodes, signed carrier requests ─────────────────────────────────────

export const testBindings = env as unknown as Record<string, string>;
export const EDGE = "https://edge.test";

export interface SeededTenant {
  tenantId: string;
  agentId: string;
  versionId: string;
  number: string;
  systemPrompt: string;
}

export function randomNumber(prefix = "+1415"): string {
  return `${prefix}${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;
}

/** A tenant with a published agent and a number routed to it (or with parts missing, to test refusals). */
export async function seedTenantWithNumber(
  over: {
    plan?: string;
    jurisdiction?: "us" | "eu";
    provider?: "twilio" | "telnyx";
    published?: boolean;
    number?: string;
    /** Stored as the version's settings as is (tests use it to store one that no longer validates). */
    settings?: Record<string, unknown>;
  } = {},
): Promise<SeededTenant> {
  const tenantId = await seedTenant({ plan: over.plan ?? "free", jurisdiction: over.jurisdiction ?? "us" });
  const agentId = newResourceId("agt");
  const versionId = newResourceId("agv");
  const number = over.number ?? randomNumber();
  const systemPrompt = `You answer the phone for test tenant ${tenantId}.`;
  await withDb(async (db) => {
    await db.insert(agents).values({ tenantId, id: agentId, name: "Front desk", latestVersion: 1 });
    await db.insert(agentVersions).values({
      tenantId,
      id: versionId,
      agentId,
      version: 1,
      name: "Front desk",
      systemPrompt,
      firstMessage: "Hello!",
      voice: "aura-2-thalia-en",
      language: "en",
      modelPolicy: DEFAULT_MODEL_POLICY,
      tools: [
        { name: "end_call", description: "Ends the call.", inputSchema: { type: "object" }, builtin: "end_call" },
      ],
      thinkingBudgetTokens: 0,
      settings: (over.settings ?? {}) as never,
    });
    if (over.published !== false) {
      await db
        .update(agents)
        .set({ publishedVersionId: versionId })
        .where(and(eq(agents.tenantId, tenantId), eq(agents.id, agentId)));
    }
    const phoneId = newResourceId("num");
    await db
      .insert(phoneNumbers)
      .values({ tenantId, id: phoneId, e164: number, provider: over.provider ?? "twilio", agentId });
    await db.insert(phoneNumberRoutes).values({ e164: number, tenantId, phoneNumberId: phoneId });
  });
  return { tenantId, agentId, versionId, number, systemPrompt };
}

export async function nodeRequest(
  method: string,
  path: string,
  body: unknown,
  nodeId = "node-test-1",
): Promise<Response> {
  const secrets = JSON.parse(testBindings.MEDIA_NODE_SECRETS ?? "{}") as Record<string, string>;
  const text = body === undefined ? "" : JSON.stringify(body);
  const headers = await signNodeRequest({ nodeId, secret: secrets[nodeId] ?? "", method, url: path, body: text });
  return exports.default.fetch(`${EDGE}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: text }),
  });
}

export async function heartbeat(
  region: string,
  over: { nodeId?: string; activeCalls?: number; capacity?: number; draining?: boolean } = {},
): Promise<Response> {
  const nodeId = over.nodeId ?? "node-test-1";
  return nodeRequest(
    "POST",
    "/v1/media-nodes/heartbeat",
    {
      nodeId,
      region,
      streamBaseUrl: `wss://${nodeId}.${region}.media.test`,
      activeCalls: over.activeCalls ?? 0,
      capacity: over.capacity ?? 50,
      draining: over.draining ?? false,
      sentAt: Date.now(),
    },
    nodeId,
  );
}

/**
 * X-Twilio-Signature as Twilio computes it (protocols.md §1.5), written here independently of shared/ so the edge's
 * validator is checked against the algorithm rather than against itself.
 */
export async function signLikeTwilio(authToken: string, url: string, params: Record<string, string>): Promise<string> {
  let data = url;
  for (const key of Object.keys(params).sort()) data += key + params[key];
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(authToken),
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(data)));
  return btoa(String.fromCharCode(...mac));
}

export function twilioCallSid(): string {
  return `CA${crypto.randomUUID().replaceAll("-", "")}`;
}

/** POSTs a form to a Twilio webhook path, signed the way Twilio signs (independent implementation). */
export async function twilioPost(
  path: string,
  params: Record<string, string>,
  over: { signature?: string; cf?: Record<string, string> } = {},
): Promise<{ status: number; body: string; response: Response }> {
  const url = `${EDGE}${path}`;
  const signature = over.signature ?? (await signLikeTwilio(testBindings.TWILIO_AUTH_TOKEN ?? "", url, params));
  const init = {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature },
    body: new URLSearchParams(params).toString(),
    ...(over.cf ? { cf: over.cf } : {}),
  } as RequestInit;
  const response = await exports.default.fetch(url, init);
  return { status: response.status, body: await response.clone().text(), response };
}

export function voiceParams(to: string, over: Record<string, string> = {}): Record<string, string> {
  return {
    CallSid: twilioCallSid(),
    AccountSid: testBindings.TWILIO_ACCOUNT_SID ?? "",
    From: "+12125550147",
    To: to,
    CallStatus: "ringing",
    Direction: "inbound",
    ...over,
  };
}

/** The `<Parameter>`s and stream URL of a `<Connect><Stream>` answer. */
export function parseStreamTwiml(xml: string): { url: string; parameters: Record<string, string> } | undefined {
  const url = /<Stream url="([^"]+)"/.exec(xml)?.[1];
  if (!url) return undefined;
  const parameters: Record<string, string> = {};
  for (const m of xml.matchAll(/<Parameter name="([^"]+)" value="([^"]*)"\/>/g)) parameters[m[1] ?? ""] = m[2] ?? "";
  return { url, parameters };
}

export function spokenText(xml: string): string | undefined {
  const text = /<Say[^>]*>([^<]*)<\/Say>/.exec(xml)?.[1];
  const entities: Record<string, string> = { "&apos;": "'", "&quot;": '"', "&lt;": "<", "&gt;": ">", "&amp;": "&" };
  return text?.replace(/&(apos|quot|lt|gt|amp);/g, (entity) => entities[entity] ?? entity);
}

/** A signed-up tenant whose published agent answers a fresh Twilio number (for inbound SMS and calls). */
export async function tenantWithNumber(name: string): Promise<{ t: Tenant; number: string }> {
  const t = await signUp(name);
  const agent = await createAgent(t, { publish: true });
  const number = randomNumber("+1718");
  await call("POST", "/v1/phone-numbers", {
    key: t.key,
    body: { e164: number, provider: "twilio", agentId: agent.id },
  });
  return { t, number };
}

/** An inbound SMS as Twilio posts it to the messaging webhook. */
export function inboundSms(
  from: string,
  to: string,
  body: string,
  sid = `SM${crypto.randomUUID().replaceAll("-", "")}`,
) {
  return {
    MessageSid: sid,
    AccountSid: testBindings.TWILIO_ACCOUNT_SID ?? "",
    From: from,
    To: to,
    Body: body,
    NumMedia: "0",
  };
}

/** POSTs a Telnyx Call Control webhook event, signed with the test key as Telnyx signs (`timestamp|body`). */
export async function telnyxPost(event: Record<string, unknown>): Promise<Response> {
  const raw = testBindings.TEST_TELNYX_PRIVATE_KEY ?? "";
  const bytes = Uint8Array.from(atob(raw.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey("pkcs8", bytes, { name: "Ed25519" }, false, ["sign"]);
  const body = JSON.stringify({ data: { record_type: "event", ...event } });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signed = new Uint8Array(
    await crypto.subtle.sign({ name: "Ed25519" }, key, new TextEncoder().encode(`${timestamp}|${body}`)),
  );
  return exports.default.fetch(`${EDGE}/v1/telephony/telnyx/voice`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "telnyx-timestamp": timestamp,
      "telnyx-signature-ed25519": btoa(String.fromCharCode(...signed)),
    },
    body,
  });
}
