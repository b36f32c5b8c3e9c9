// The platform for an end-to-end test, each part real and local: the edge Worker (workerd under Miniflare, PGlite),
// the Deepgram and Bedrock emulators, and one media node in this process registered with the edge by heartbeats;
// a tenant signed up through the API with a published agent on a Twilio number. A test places calls through the
// signed voice webhook with the simulated Twilio caller and reads what was stored through the API or the database.
import { type BedrockEmulator, startBedrockEmulator } from "../../../../emulators/bedrock/index.ts";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../../emulators/deepgram/index.ts";
import { newCallSid } from "../../../../emulators/twilio-caller/caller.ts";
import {
  placeCallViaWebhook,
  sendStatusCallback,
  type WebhookCallResult,
} from "../../../../emulators/twilio-caller/webhook.ts";
import { loadConfig } from "../../../../media-nodes/src/config.ts";
import type { Logger } from "../../../../media-nodes/src/server/logger.ts";
import { type RunningMediaNode, runMediaNode } from "../../../../media-nodes/src/server/run.ts";
import { type LocalEdge, startLocalEdge } from "../../../../scripts/local-edge.ts";
import { callIdForCarrierCall } from "../../../../workers/src/do/call-ledger/call-id.ts";

export const CALLER_NUMBER = "+12125550123";

export interface OneNodePlatform {
  edge: LocalEdge;
  dg: DeepgramEmulator;
  br: BedrockEmulator;
  node: RunningMediaNode;
  tenant: { accountId: string; key: string };
  number: string;
  api<T>(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; body: T }>;
  /** Rings the number through the signed voice webhook; the Deepgram emulator's caller will say `lines`. */
  placeCall(
    lines: string[],
  ): Promise<{ callId: string; answered: Extract<WebhookCallResult, { outcome: "connected" }> }>;
  /** Twilio's final status callback for a call placed here. */
  hangUp(answered: Extract<WebhookCallResult, { outcome: "connected" }>, durationMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** A media node's environment for this edge and these emulators, in region us-east-1 (what `npm run media-node` reads). */
export function mediaNodeEnv(
  edge: LocalEdge,
  emulators: { dg: { url: string }; br: { url: string } },
  nodeId: string,
): Record<string, string> {
  const [kid, publicKey] = Object.entries(edge.callTokenPublicKeys)[0] ?? [];
  return {
    MEDIA_PORT: "0",
    MEDIA_HOST: "127.0.0.1",
    MEDIA_REGION: "us-east-1",
    MEDIA_NODE_ID: nodeId,
    MEDIA_NODE_SECRET: edge.nodeSecrets[nodeId] ?? "",
    CALL_TOKEN_PUBLIC_KEYS: `${kid}:${publicKey}`,
    DEEPGRAM_URL: emulators.dg.url,
    DEEPGRAM_API_KEY: "emulator-key",
    BEDROCK_ENDPOINT: emulators.br.url,
    EDGE_URL: edge.url,
    MEDIA_HEARTBEAT_MS: "1000",
    MEDIA_LOG_LEVEL: "warn",
  };
}

/** A media node in this process, registered with the edge by its heartbeats. */
export async function startMediaNodeFor(
  edge: LocalEdge,
  emulators: { dg: { url: string }; br: { url: string } },
  nodeId: string,
  logger?: Logger,
): Promise<RunningMediaNode> {
  const node = await runMediaNode(loadConfig(mediaNodeEnv(edge, emulators, nodeId)), logger ? { logger } : {});
  await node.heartbeat?.registered;
  return node;
}

export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startOneNodePlatform(options: {
  nodeId: string;
  /** The agent's config, as POST /v1/agents takes it. */
  agent: Record<string, unknown>;
  logger?: Logger;
}): Promise<OneNodePlatform> {
  const [dg, br, edge] = await Promise.all([
    startDeepgramEmulator({ port: 0, profile: "instant" }),
    startBedrockEmulator({ port: 0, profile: "instant" }),
    startLocalEdge({ nodeIds: [options.nodeId] }),
  ]);
  let tenant = { accountId: "", key: "" };
  const api = async <T>(method: string, path: string, body?: unknown, key = tenant.key) => {
    const res = await fetch(`${edge.url}${path}`, {
      method,
      headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const signUp = await api<{ account: { id: string }; apiKey: { key: string } }>(
    "POST",
    "/v1/accounts",
    { name: "Spokes Bikes", email: `e2e-${crypto.randomUUID()}@example.com` },
    "",
  );
  if (signUp.status !== 201) throw new Error(`sign-up: ${signUp.status}`);
  tenant = { accountId: signUp.body.account.id, key: signUp.body.apiKey.key };
  const agent = await api<{ id: string }>("POST", "/v1/agents", {
    name: "Front desk",
    publish: true,
    config: options.agent,
  });
  if (agent.status !== 201) throw new Error(`agent: ${agent.status} ${JSON.stringify(agent.body)}`);
  const number = `+1415${String(Date.now()).slice(-7)}`;
  const attached = await api("POST", "/v1/phone-numbers", { e164: number, provider: "twilio", agentId: agent.body.id });
  if (attached.status !== 201) throw new Error(`number: ${attached.status}`);

  const node = await startMediaNodeFor(edge, { dg, br }, options.nodeId, options.logger);

  return {
    edge,
    dg,
    br,
    node,
    tenant,
    number,
    api,
    async placeCall(lines) {
      const callSid = newCallSid();
      const callId = await callIdForCarrierCall("twilio", callSid);
      dg.setScript(callId, lines);
      const answered = await placeCallViaWebhook({
        voiceUrl: `${edge.url}/v1/telephony/twilio/voice`,
        authToken: edge.twilioAuthToken,
        from: CALLER_NUMBER,
        to: number,
        callSid,
        caller: { replyTimeoutMs: 15_000 },
      });
      if (answered.outcome !== "connected") throw new Error(`call not connected: ${JSON.stringify(answered)}`);
      return { callId, answered };
    },
    async hangUp(answered, durationMs) {
      await answered.caller.hangUp();
      const status = await sendStatusCallback({
        statusUrl: `${edge.url}/v1/telephony/twilio/status`,
        authToken: edge.twilioAuthToken,
        callSid: answered.callSid,
        accountSid: answered.accountSid,
        status: "completed",
        duration: durationMs / 1000,
        from: CALLER_NUMBER,
        to: number,
      });
      if (status.status !== 200) throw new Error(`status callback: ${status.status}`);
    },
    async stop() {
      await node.close();
      await Promise.all([dg.close(), br.close()]);
      await edge.stop();
    },
  };
}
