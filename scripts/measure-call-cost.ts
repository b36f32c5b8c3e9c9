// Measures what one demo call costs on list prices and extrapolates it to an agent-hour (docs/cost.md).
//
//   npx tsx scripts/measure-call-cost.ts
//
// Everything real but the vendors: the edge in workerd (wrangler), a media node with the official SDKs, the
// Deepgram and Bedrock emulators on their realistic latency profiles, the demo agent with its webhook tools and
// post-call analysis, and the simulated Twilio caller playing the default eight-line caller script at real-time
// pace. The meters are the ones production writes (model tokens come from Bedrock's own usage metadata, which the
// emulator computes from the request bytes), priced with the built-in list-price table.

import { startBedrockEmulator } from "../emulators/bedrock/index.ts";
import { DEFAULT_CALLER_SCRIPT, startDeepgramEmulator } from "../emulators/deepgram/index.ts";
import { loadFixtureIndex, newCallSid, runCall } from "../emulators/twilio-caller/caller.ts";
import { sendStatusCallback } from "../emulators/twilio-caller/status-callback.ts";
import { placeCallViaWebhook } from "../emulators/twilio-caller/webhook.ts";
import { loadConfig } from "../media-nodes/src/config.ts";
import { runMediaNode } from "../media-nodes/src/server/run.ts";
import { callIdForCarrierCall } from "../workers/src/do/call-ledger/call-id.ts";
import { startLocalEdge } from "./local-edge.ts";
import { demoAgentConfig, startDemoTools } from "./platform/demo-tools.ts";
import { demoToolSigningSecret } from "./platform/seed.ts";

const NODE_ID = "node-cost-1";

type Line = {
  category: string;
  meter: string;
  variant: string;
  speculative: boolean;
  quantity: number;
  costUsd: number;
};
type CallOut = {
  durationMs: number | null;
  turns: { speaker: string }[];
  analysis: { status: string } | null;
  cost: { total: number; pricesAsOf: string; breakdown: Line[] };
};

async function main(): Promise<void> {
  const [dg, br, tools] = await Promise.all([
    startDeepgramEmulator({ port: 0, profile: "realistic" }),
    startBedrockEmulator({ port: 0, profile: "realistic" }),
    startDemoTools({ port: 0 }),
  ]);
  const edge = await startLocalEdge({ nodeIds: [NODE_ID], vars: { BEDROCK_ENDPOINT: br.url } });
  const api = async <T>(method: string, path: string, body?: unknown, key?: string) => {
    const res = await fetch(`${edge.url}${path}`, {
      method,
      headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await res.json()) as T;
  };
  const [kid, publicKey] = Object.entries(edge.callTokenPublicKeys)[0] ?? [];
  const node = await runMediaNode(
    loadConfig({
      MEDIA_PORT: "0",
      MEDIA_HOST: "127.0.0.1",
      MEDIA_REGION: "us-east-1",
      MEDIA_NODE_ID: NODE_ID,
      MEDIA_NODE_SECRET: edge.nodeSecrets[NODE_ID],
      CALL_TOKEN_PUBLIC_KEYS: `${kid}:${publicKey}`,
      DEEPGRAM_URL: dg.url,
      DEEPGRAM_API_KEY: "emulator-key",
      BEDROCK_ENDPOINT: br.url,
      EDGE_URL: edge.url,
      MEDIA_HEARTBEAT_MS: "1000",
      MEDIA_LOG_LEVEL: "error",
    }),
  );
  try {
    await node.heartbeat?.registered;
    const signUp = await api<{ apiKey: { key: string } }>("POST", "/v1/accounts", {
      name: "Acme Bikes (cost)",
      email: `cost-${crypto.randomUUID()}@example.com`,
    });
    const key = signUp.apiKey.key;
    tools.useSecret(await demoToolSigningSecret(edge.url, key));
    const agent = await api<{ id: string }>(
      "POST",
      "/v1/agents",
      { name: "Acme Bikes front desk", config: demoAgentConfig(tools.url), publish: true },
      key,
    );
    const number = "+14155550100";
    await api("POST", "/v1/phone-numbers", { e164: number, provider: "twilio", agentId: agent.id }, key);

    const index = await loadFixtureIndex();
    const script = index.defaultScript;
    const callSid = newCallSid();
    const callId = await callIdForCarrierCall("twilio", callSid);
    dg.setScript(callId, [...DEFAULT_CALLER_SCRIPT]);
    const answered = await placeCallViaWebhook({
      voiceUrl: `${edge.url}/v1/telephony/twilio/voice`,
      authToken: edge.twilioAuthToken,
      from: "+12125550123",
      to: number,
      callSid,
      caller: { replyTimeoutMs: 20_000 },
    });
    if (answered.outcome !== "connected") throw new Error(`call not connected: ${JSON.stringify(answered)}`);
    const report = await runCall(answered.caller, { script, greetingTimeoutMs: 15_000 });
    await sendStatusCallback({
      statusUrl: `${edge.url}/v1/telephony/twilio/status`,
      authToken: edge.twilioAuthToken,
      callSid,
      accountSid: answered.accountSid,
      status: "completed",
      duration: report.durationMs / 1000,
      from: "+12125550123",
      to: number,
    });
    let call: CallOut | undefined;
    for (let i = 0; i < 120 && !call?.analysis; i++) {
      await new Promise((r) => setTimeout(r, 500));
      call = await api<CallOut>("GET", `/v1/calls/${callId}`, undefined, key);
    }
    if (!call?.analysis || !call.durationMs) throw new Error("the call was not analyzed in time");
    print(call, report.turns.length);
  } finally {
    await node.close();
    await edge.stop();
    await Promise.all([dg.close(), br.close(), tools.close()]);
  }
}

function print(call: CallOut, callerTurns: number): void {
  const minutes = (call.durationMs ?? 0) / 60_000;
  const perHour = 60 / minutes;
  const byCategory = new Map<string, number>();
  for (const l of call.cost.breakdown) byCategory.set(l.category, (byCategory.get(l.category) ?? 0) + l.costUsd);
  const usd = (n: number) => `$${n.toFixed(n < 0.01 ? 5 : 4)}`;
  console.log(`prices as of ${call.cost.pricesAsOf}; connected ${minutes.toFixed(2)} min, ${callerTurns} caller turns`);
  console.log("\n| category | this call | per agent-hour | share |\n|---|---:|---:|---:|");
  for (const [category, cost] of [...byCategory.entries()].sort((a, b) => b[1] - a[1])) {
    const share = ((cost / call.cost.total) * 100).toFixed(1);
    console.log(`| ${category} | ${usd(cost)} | ${usd(cost * perHour)} | ${share}% |`);
  }
  console.log(`| **total** | ${usd(call.cost.total)} | ${usd(call.cost.total * perHour)} | 100% |`);
  console.log("\n| meter | variant | quantity | cost |\n|---|---|---:|---:|");
  for (const l of call.cost.breakdown)
    console.log(
      `| ${l.meter}${l.speculative ? " (speculative)" : ""} | ${l.variant} | ${l.quantity} | ${usd(l.costUsd)} |`,
    );
}

await main();
