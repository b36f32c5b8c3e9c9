// Measures what one demo call costs on list prices and extrapolates it to an agent-hour (docs/cost.md).
//
//   npx tsx scripts/measure-call-cost.ts
//
// Everything real but the vendors: the edge in workerd (wrangler), a media node with the official SDKs, the
// Deepgram and Bedrock emulators on their realistic latency profiles, the demo agent with its webhook tools and
// post-call analysis, and the simulated Twilio caller playing the default eight-line caller script at real-time
// pace. The meters are the ones production writes (model tokens come from Bedrock's own usage metadata, which the
// emulator computes from the request bytes), priced with the built-in list-price table. The platform is the one the
// end-to-end tests run (local-platform.ts).

import { DEFAULT_CALLER_SCRIPT } from "../emulators/deepgram/index.ts";
import { loadFixtureIndex, newCallSid, runCall } from "../emulators/twilio-caller/caller.ts";
import { LocalPlatform } from "./local-platform.ts";
import { demoAgentConfig, startDemoTools } from "./platform/demo-tools.ts";
import { demoToolSigningSecret } from "./platform/seed.ts";

const NODE_ID = "node-cost-1";

const USAGE = `Usage: npx tsx scripts/measure-call-cost.ts

Places one demo call through the local platform (edge in workerd, a media node, the Deepgram and Bedrock
emulators on their realistic profiles) and prints what it cost on list prices, per call and per agent-hour,
as Markdown tables (docs/cost.md). Takes about a minute; no options.`;

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
  if (process.argv.slice(2).some((a) => a === "-h" || a === "--help")) {
    console.log(USAGE);
    return;
  }
  const [platform, tools] = await Promise.all([
    LocalPlatform.start({ nodeIds: [NODE_ID], edgeUsesBedrock: true, profile: "realistic", mediaLogLevel: "error" }),
    startDemoTools({ port: 0 }),
  ]);
  try {
    const { key } = await platform.signUp("Acme Bikes (cost)");
    tools.useSecret(await demoToolSigningSecret(platform.edge.url, key));
    const { number } = await platform.agentOnNumber(key, demoAgentConfig(tools.url), {
      name: "Acme Bikes front desk",
      number: "+14155550100",
    });

    const index = await loadFixtureIndex();
    const script = index.defaultScript;
    const callSid = newCallSid();
    const callId = await platform.scriptCaller(callSid, [...DEFAULT_CALLER_SCRIPT]);
    const answered = await platform.placeCall(number, callSid, { replyTimeoutMs: 20_000 });
    const report = await runCall(answered.caller, { script, greetingTimeoutMs: 15_000 });
    await platform.completeCall(number, report);
    const api = platform.api(key);
    let call: CallOut | undefined;
    for (let i = 0; i < 120 && !call?.analysis; i++) {
      await new Promise((r) => setTimeout(r, 500));
      call = (await api<CallOut>("GET", `/v1/calls/${callId}`)).body;
    }
    if (!call?.analysis || !call.durationMs) throw new Error("the call was not analyzed in time");
    print(call, report.turns.length);
  } finally {
    await platform.close();
    await tools.close();
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
