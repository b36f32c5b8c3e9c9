// Keys switch a provider to the real service, one provider at a time, and the endpoint overrides point the
// clients anywhere (here: back at the emulators' addresses, as a staging proxy would). A provider with a key or an
// override gets no emulator; the media node is configured with exactly those endpoints and keys.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";
import { startBedrockEmulator } from "../../../emulators/bedrock/index.ts";
import { startDeepgramEmulator } from "../../../emulators/deepgram/index.ts";
import { placeSimulatedCall } from "../../../emulators/twilio-caller/caller.ts";
import { loadConfig } from "../../../media-nodes/src/config.ts";
import { runMediaNode } from "../../../media-nodes/src/server/run.ts";
import { providerPlan } from "../../../scripts/platform/providers.ts";
import { AgentRuntimeConfigSchema } from "../../../shared/agent-config.ts";
import { generateCallTokenKeyPair, importCallTokenSigner } from "../../../shared/call-token.ts";
import { compilePromptPrefix } from "../../../shared/prompt-prefix.ts";
import { tempDataDir } from "./support.ts";

const PORTS = { deepgram: 18091, bedrock: 18092 };
const KEYS = { CALL_TOKEN_PUBLIC_KEYS: `k:${"A".repeat(43)}` };

test("no keys: both emulators start and the node talks to them", () => {
  const plan = providerPlan({}, PORTS);
  expect(plan.emulators).toEqual(["deepgram", "bedrock"]);
  const config = loadConfig({ ...KEYS, ...plan.mediaNodeEnv });
  expect(config.deepgram).toMatchObject({ url: "http://127.0.0.1:18091", emulated: true });
  expect(config.bedrock).toMatchObject({ endpoint: "http://127.0.0.1:18092", emulated: true });
});

test("keys and endpoint overrides: no emulator, and the node uses those endpoints with those keys", () => {
  const env = {
    DEEPGRAM_API_KEY: "dg-live-key",
    DEEPGRAM_URL: "http://127.0.0.1:28091",
    AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
    AWS_SECRET_ACCESS_KEY: "secret-example",
    AWS_REGION: "eu-central-1",
    BEDROCK_ENDPOINT: "http://127.0.0.1:28092",
  };
  const plan = providerPlan(env, PORTS);
  expect(plan.emulators).toEqual([]);
  expect(plan.describe().join("\n")).not.toMatch(/dg-live-key|secret-example/);
  const config = loadConfig({ ...KEYS, ...plan.mediaNodeEnv });
  expect(config.deepgram).toEqual({ apiKey: "dg-live-key", url: "http://127.0.0.1:28091", emulated: false });
  expect(config.bedrock).toEqual({ region: "eu-central-1", endpoint: "http://127.0.0.1:28092", emulated: false });
  // Real credentials reach the node's SDK from its environment.
  expect(plan.mediaNodeEnv).toMatchObject({
    AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
    AWS_SECRET_ACCESS_KEY: "secret-example",
  });
});

test("one key switches one provider: Deepgram real, Bedrock still emulated", () => {
  const plan = providerPlan({ DEEPGRAM_API_KEY: "dg-live-key", AWS_ACCESS_KEY_ID: "half-a-pair" }, PORTS);
  expect(plan.emulators).toEqual(["bedrock"]);
  const config = loadConfig({ ...KEYS, ...plan.mediaNodeEnv });
  expect(config.deepgram).toMatchObject({ url: "https://api.deepgram.com", emulated: false });
  expect(config.bedrock).toMatchObject({ endpoint: "http://127.0.0.1:18092", emulated: true });
  // Half a pair of AWS credentials is not passed on, so the node's SDK cannot try it against the emulator.
  expect(plan.mediaNodeEnv.AWS_ACCESS_KEY_ID).toBeUndefined();
});

test("an AWS profile alone is credentials: Bedrock goes to its regional endpoint", () => {
  const plan = providerPlan({ AWS_PROFILE: "voice" }, PORTS);
  expect(plan.emulators).toEqual(["deepgram"]);
  const config = loadConfig({ ...KEYS, ...plan.mediaNodeEnv });
  expect(config.bedrock).toMatchObject({ endpoint: undefined, emulated: false, region: "us-east-1" });
});

test("a media node configured from a keyed plan answers a call through the endpoints it was given, with that key", async () => {
  // Stand-ins for the real services that, like them, accept only the real key.
  const deepgram = await startDeepgramEmulator({ port: 0, apiKeys: ["dg-live-key"] });
  const bedrock = await startBedrockEmulator({ port: 0 });
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  try {
    const plan = providerPlan(
      {
        DEEPGRAM_API_KEY: "dg-live-key",
        DEEPGRAM_URL: deepgram.url,
        AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
        AWS_SECRET_ACCESS_KEY: "secret-example",
        BEDROCK_ENDPOINT: bedrock.url,
      },
      PORTS,
    );
    expect(plan.emulators).toEqual([]);
    // The node reads AWS credentials from its environment, as the SDK's default chain does.
    process.env.AWS_ACCESS_KEY_ID = plan.mediaNodeEnv.AWS_ACCESS_KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY = plan.mediaNodeEnv.AWS_SECRET_ACCESS_KEY;

    const keys = await generateCallTokenKeyPair();
    const agent = AgentRuntimeConfigSchema.parse({
      tenantId: "ten_switch",
      agentId: "agt_switch",
      version: 1,
      systemPrompt: "You answer the phone for a bike shop.",
      firstMessage: null,
    });
    const dir = tempDataDir();
    writeFileSync(path.join(dir, "agents.json"), JSON.stringify([agent]));
    const node = await runMediaNode(
      loadConfig({
        ...plan.mediaNodeEnv,
        CALL_TOKEN_PUBLIC_KEYS: `${keys.kid}:${keys.publicKey}`,
        MEDIA_PORT: "0",
        MEDIA_REGION: "us-east-1",
        MEDIA_LOG_LEVEL: "silent",
        MEDIA_AGENTS_FILE: path.join(dir, "agents.json"),
      }),
    );
    try {
      const signer = await importCallTokenSigner(keys.privateKey, keys.kid);
      const token = await signer.sign({
        callId: "call_switch",
        tenantId: agent.tenantId,
        agentId: agent.agentId,
        agentVersion: 1,
        prefixHash: (await compilePromptPrefix(agent)).hash,
        region: "us-east-1",
      });
      const report = await placeSimulatedCall({
        streamUrl: `${node.url.replace(/^http/, "ws")}/v1/telephony/twilio`,
        customParameters: { token },
        script: ["order-status"],
        // The first audio is the proof; listening to the whole reply would only cost time.
        maxReplyMs: 1_000,
        waitForGreeting: false,
      });
      expect(report.errors).toEqual([]);
      expect(report.turns[0]?.firstAgentAudioMs).not.toBeNull();
      expect(bedrock.requests().length).toBeGreaterThan(0);
    } finally {
      await node.close();
    }
  } finally {
    process.env.AWS_ACCESS_KEY_ID = saved.id;
    process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    await deepgram.close();
    await bedrock.close();
  }
}, 60_000);
