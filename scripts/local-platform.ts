// The whole platform, real and local, as the end-to-end tests, scripts/measure-call-cost.ts and the bench run it: the
// edge (workerd through local-edge.ts, on Postgres or PGlite), the Deepgram and Bedrock emulators, and media nodes
// that register with the edge by heartbeat; then what a tenant does (sign up, publish an agent on a number) and what
// Twilio does for a call (the signed voice webhook, the media stream, the final status callback). Each user keeps
// only what it is about. Node-only; it asserts nothing itself, it throws when the platform answers otherwise.
import { and, eq } from "drizzle-orm";
import { type BedrockEmulator, startBedrockEmulator } from "../emulators/bedrock/index.ts";
import { type DeepgramEmulator, startDeepgramEmulator } from "../emulators/deepgram/index.ts";
import { type CallReport, loadFixtureIndex } from "../emulators/twilio-caller/caller.ts";
import { sendStatusCallback } from "../emulators/twilio-caller/status-callback.ts";
import {
  type PlaceCallViaWebhookOptions,
  placeCallViaWebhook,
  type WebhookCallResult,
} from "../emulators/twilio-caller/webhook.ts";
import { loadConfig } from "../media-nodes/src/config.ts";
import type { Logger } from "../media-nodes/src/server/logger.ts";
import { type RunningMediaNode, runMediaNode } from "../media-nodes/src/server/run.ts";
import { calls } from "../workers/src/db/schema.ts";
import { callIdForCarrierCall } from "../workers/src/do/call-ledger/call-id.ts";
import { type LocalEdge, type LocalEdgeOptions, startLocalEdge } from "./local-edge.ts";

/** The number the simulated caller dials from. */
export const CALLER_NUMBER = "+12125550123";

/** A small receptionist agent: the one most end-to-end tests talk to. */
export const FRONT_DESK = {
  systemPrompt: "You are the receptionist of Spokes, a bike shop. Keep answers to one or two short sentences.",
  firstMessage: "Thanks for calling Spokes, how can I help?",
};

export interface Tenant {
  accountId: string;
  key: string;
}

/** The tenant API as one key sees it (no key: ""). Bodies are parsed JSON, or undefined when empty. */
export type Api = <T = unknown>(method: string, path: string, body?: unknown) => Promise<{ status: number; body: T }>;

export interface LocalPlatformOptions {
  /** Every media node the edge will accept (each gets a node secret). */
  nodeIds: string[];
  /** The ones to run in this process once the edge is up; default all. Others are for the test to start. */
  inProcessNodes?: string[];
  /** The edge's own model calls (post-call analysis) go to the Bedrock emulator too. */
  edgeUsesBedrock?: boolean;
  edgeVars?: Record<string, string>;
  backend?: LocalEdgeOptions["backend"];
  logLevel?: LocalEdgeOptions["logLevel"];
  /** The emulators' latency profile; default "instant". */
  profile?: "instant" | "realistic";
  /** MEDIA_LOG_LEVEL of the media nodes; default "warn". */
  mediaLogLevel?: string;
}

export type ConnectedCall = Extract<WebhookCallResult, { outcome: "connected" }>;

export class LocalPlatform {
  private readonly nodes = new Map<string, RunningMediaNode>();

  private constructor(
    readonly edge: LocalEdge,
    readonly dg: DeepgramEmulator,
    readonly br: BedrockEmulator,
    private readonly mediaLogLevel: string,
  ) {}

  static async start(options: LocalPlatformOptions): Promise<LocalPlatform> {
    const edgeOptions = (br?: BedrockEmulator): LocalEdgeOptions => {
      const vars = { ...options.edgeVars, ...(br ? { BEDROCK_ENDPOINT: br.url } : {}) };
      return {
        nodeIds: options.nodeIds,
        ...(Object.keys(vars).length > 0 ? { vars } : {}),
        ...(options.backend ? { backend: options.backend } : {}),
        ...(options.logLevel ? { logLevel: options.logLevel } : {}),
      };
    };
    const profile = options.profile ?? "instant";
    let dg: DeepgramEmulator;
    let br: BedrockEmulator;
    let edge: LocalEdge;
    if (options.edgeUsesBedrock) {
      [dg, br] = await Promise.all([
        startDeepgramEmulator({ port: 0, profile }),
        startBedrockEmulator({ port: 0, profile }),
      ]);
      edge = await startLocalEdge(edgeOptions(br));
    } else {
      [dg, br, edge] = await Promise.all([
        startDeepgramEmulator({ port: 0, profile }),
        startBedrockEmulator({ port: 0, profile }),
        startLocalEdge(edgeOptions()),
      ]);
    }
    const platform = new LocalPlatform(edge, dg, br, options.mediaLogLevel ?? "warn");
    for (const id of options.inProcessNodes ?? options.nodeIds) await platform.startMediaNode(id);
    return platform;
  }

  /** What a media node with this ID needs to reach the edge and the emulators (its environment). */
  mediaNodeEnv(id: string): Record<string, string> {
    const [kid, publicKey] = Object.entries(this.edge.callTokenPublicKeys)[0] ?? [];
    return {
      MEDIA_PORT: "0",
      MEDIA_HOST: "127.0.0.1",
      MEDIA_REGION: "us-east-1",
      MEDIA_NODE_ID: id,
      MEDIA_NODE_SECRET: this.edge.nodeSecrets[id] ?? "",
      CALL_TOKEN_PUBLIC_KEYS: `${kid}:${publicKey}`,
      DEEPGRAM_URL: this.dg.url,
      DEEPGRAM_API_KEY: "emulator-key",
      BEDROCK_ENDPOINT: this.br.url,
      EDGE_URL: this.edge.url,
      MEDIA_HEARTBEAT_MS: "1000",
      MEDIA_LOG_LEVEL: this.mediaLogLevel,
    };
  }

  /** A media node in this process, once the edge has its first heartbeat. */
  async startMediaNode(id: string, logger?: Logger): Promise<RunningMediaNode> {
    const node = await runMediaNode(loadConfig(this.mediaNodeEnv(id)), logger ? { logger } : {});
    this.nodes.set(id, node);
    await node.heartbeat?.registered;
    return node;
  }

  /** A media node started in this process. */
  mediaNode(id: string): RunningMediaNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no media node ${id} in this process`);
    return node;
  }

  api(key: string): Api {
    return tenantApi(this.edge.url, key);
  }

  signUp(name: string): Promise<Tenant> {
    return signUp(this.edge.url, name);
  }

  /** Publishes an agent and gives it a Twilio number of its own. */
  agentOnNumber(
    key: string,
    config: Record<string, unknown>,
    options?: AgentOnNumberOptions,
  ): Promise<{ agentId: string; number: string }> {
    return agentOnNumber(this.edge.url, key, config, options);
  }

  /** Tells the Deepgram emulator what the caller of this Twilio call says; returns the platform's call ID. */
  async scriptCaller(callSid: string, lines: string[]): Promise<string> {
    const callId = await callIdForCarrierCall("twilio", callSid);
    this.dg.setScript(callId, lines);
    return callId;
  }

  /** Twilio rings the edge for a call to `to`; resolves once the caller is on the media stream. */
  async placeCall(
    to: string,
    callSid: string,
    caller: PlaceCallViaWebhookOptions["caller"] = { replyTimeoutMs: 15_000 },
  ): Promise<ConnectedCall> {
    const answered = await placeCallViaWebhook({
      voiceUrl: `${this.edge.url}/v1/telephony/twilio/voice`,
      authToken: this.edge.twilioAuthToken,
      from: CALLER_NUMBER,
      to,
      callSid,
      caller,
    });
    if (answered.outcome !== "connected") throw new Error(`call not connected: ${JSON.stringify(answered)}`);
    return answered;
  }

  /** Twilio's final status callback for a call to `to` the caller hung up; returns the edge's HTTP status. */
  async completeCall(to: string, call: Pick<CallReport, "callSid" | "accountSid" | "durationMs">): Promise<number> {
    const res = await sendStatusCallback({
      statusUrl: `${this.edge.url}/v1/telephony/twilio/status`,
      authToken: this.edge.twilioAuthToken,
      callSid: call.callSid,
      accountSid: call.accountSid,
      status: "completed",
      duration: call.durationMs / 1000,
      from: CALLER_NUMBER,
      to,
    });
    return res.status;
  }

  /** The call's record in the tenant's database, once it has ended. */
  endedCall(tenantId: string, callId: string, what = "the finished call record") {
    const db = this.edge.db.db;
    return until(what, async () => {
      const [row] = await db
        .select()
        .from(calls)
        .where(and(eq(calls.tenantId, tenantId), eq(calls.id, callId)));
      return row?.endedAt ? row : undefined;
    });
  }

  /** Stops the in-process nodes, then the emulators, then the edge. */
  async close(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.close()));
    await Promise.all([this.dg.close(), this.br.close()]);
    await this.edge.stop();
  }
}

/** The tenant API of the edge at `edgeUrl` as one key sees it (no key: ""). */
export function tenantApi(edgeUrl: string, key: string): Api {
  return async <T>(method: string, path: string, body?: unknown) => {
    const res = await fetch(`${edgeUrl}${path}`, {
      method,
      headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
}

function expectStatus(what: string, r: { status: number; body: unknown }, status: number): void {
  if (r.status !== status) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
}

/** A new tenant, signed up through the API. */
export async function signUp(edgeUrl: string, name: string): Promise<Tenant> {
  const r = await tenantApi(edgeUrl, "")<{ account: { id: string }; apiKey: { key: string } }>("POST", "/v1/accounts", {
    name,
    email: `local-${crypto.randomUUID()}@example.com`,
  });
  expectStatus("sign-up", r, 201);
  return { accountId: r.body.account.id, key: r.body.apiKey.key };
}

export interface AgentOnNumberOptions {
  /** Default "Front desk". */
  name?: string;
  /** Default: a random +1415 number. */
  number?: string;
}

/** Publishes an agent and gives it a Twilio number of its own. */
export async function agentOnNumber(
  edgeUrl: string,
  key: string,
  config: Record<string, unknown>,
  options: AgentOnNumberOptions = {},
): Promise<{ agentId: string; number: string }> {
  const api = tenantApi(edgeUrl, key);
  const name = options.name ?? "Front desk";
  const agent = await api<{ id: string }>("POST", "/v1/agents", { name, publish: true, config });
  expectStatus("publishing the agent", agent, 201);
  const number = options.number ?? `+1415${String(Date.now() + Math.floor(Math.random() * 1000)).slice(-7)}`;
  const added = await api("POST", "/v1/phone-numbers", { e164: number, provider: "twilio", agentId: agent.body.id });
  expectStatus("adding the number", added, 201);
  return { agentId: agent.body.id, number };
}

/** The words of each speech fixture by name (a name that is not a fixture is taken as the words). */
export async function fixtureLines(names: readonly string[]): Promise<string[]> {
  const index = await loadFixtureIndex();
  return names.map((name) => index.fixtures.find((f) => f.name === name)?.text ?? name);
}

/** Polls `probe` until it returns something, or fails naming `what`. */
export async function until<T>(
  what: string | (() => string),
  probe: () => T | undefined | Promise<T | undefined>,
  { timeoutMs = 20_000, everyMs = 200 }: { timeoutMs?: number; everyMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
