// The processes a voice benchmark needs: the two emulators (Deepgram, Bedrock), and the system under test —
// the media node (`media-nodes/src/main.ts`, as `npm run media-node` runs it) or the baseline relay — each in
// its own process. The media node gets a fresh signing key, an agents file and a session sink that reports
// every turn's waterfall back to this process.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { RECOGNIZERS, type Recognizer } from "../../shared/agent-config.ts";
import { type CallTokenSigner, generateCallTokenKeyPair, importCallTokenSigner } from "../../shared/call-token.ts";
import { compilePromptPrefix } from "../../shared/prompt-prefix.ts";
import { benchAgent } from "./agent.ts";
import { type Service, startService } from "./proc.ts";
import { type SinkReceiver, startSinkReceiver } from "./sink-receiver.ts";

export type EmulatorProfile = "instant" | "realistic";

export interface Emulators {
  deepgramUrl: string;
  bedrockUrl: string;
  profile: EmulatorProfile;
  service: Service;
  stop(): Promise<void>;
}

/** Both emulators in one process (bench/lib/emulators-process.ts), pinned where the callers run. */
export async function startEmulators(opts: {
  profile: EmulatorProfile;
  cpu: number | null;
  voice?: "auto" | "espeak-ng" | "synthetic";
}): Promise<Emulators> {
  const service = await startService({
    name: "emulators",
    script: "bench/lib/emulators-process.ts",
    env: { EMULATOR_PROFILE: opts.profile, BENCH_TTS_VOICE: opts.voice ?? "auto" },
    cpu: opts.cpu,
    urlPattern: /emulators (\{.*\})/,
  });
  const urls = JSON.parse(service.url) as { deepgram: string; bedrock: string };
  return {
    deepgramUrl: urls.deepgram,
    bedrockUrl: urls.bedrock,
    profile: opts.profile,
    service,
    stop: () => service.stop(),
  };
}

/** A system under test that simulated callers dial. */
export interface VoiceTarget {
  kind: "media-node" | "baseline";
  label: string;
  service: Service;
  /** ws:// URL of the Twilio Media Streams endpoint. */
  streamUrl: string;
  /** `start.customParameters` for a new call (the media node's call token; nothing for the baseline). */
  callParameters(callId: string): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export const MEDIA_NODE_REGION = "bench-1";

export interface MediaNodeTarget extends VoiceTarget {
  kind: "media-node";
  sink: SinkReceiver;
  metricsUrl: string;
  /** The same node, calls placed to the bench agent with `recognizer` (the node serves both). */
  withRecognizer(recognizer: Recognizer): MediaNodeTarget;
}

export async function startMediaNodeTarget(opts: {
  emulators: Pick<Emulators, "deepgramUrl" | "bedrockUrl">;
  cpu: number | null;
  /** MEDIA_DRAIN_DEADLINE_MS (default 0: a benchmark's SIGTERM ends calls at once). */
  drainDeadlineMs?: number;
  maxCalls?: number;
  /** Send turn events to this process (default true); off for capacity runs, like a node with no edge. */
  sink?: boolean;
}): Promise<MediaNodeTarget> {
  const keys = await generateCallTokenKeyPair();
  const signer: CallTokenSigner = await importCallTokenSigner(keys.privateKey, keys.kid);
  const agents = await Promise.all(
    RECOGNIZERS.map(async (recognizer) => {
      const agent = benchAgent(recognizer);
      return { recognizer, agent, prefix: await compilePromptPrefix(agent) };
    }),
  );
  const dir = await mkdtemp(path.join(tmpdir(), "aybiza-bench-"));
  const agentsFile = path.join(dir, "agents.json");
  await writeFile(agentsFile, JSON.stringify(agents.map((a) => a.agent)));
  const sink = await startSinkReceiver();
  const secret = "bench-media-node-secret-0123456789";
  let service: Service;
  try {
    service = await startService({
      name: "media node",
      script: "media-nodes/src/main.ts",
      env: {
        MEDIA_PORT: "0",
        MEDIA_HOST: "127.0.0.1",
        MEDIA_REGION: MEDIA_NODE_REGION,
        MEDIA_NODE_ID: "bench-node",
        MEDIA_LOG_LEVEL: "error",
        MEDIA_MAX_CALLS: String(opts.maxCalls ?? 2_000),
        MEDIA_DRAIN_DEADLINE_MS: String(opts.drainDeadlineMs ?? 0),
        MEDIA_AGENTS_FILE: agentsFile,
        CALL_TOKEN_PUBLIC_KEYS: `${keys.kid}:${keys.publicKey}`,
        DEEPGRAM_URL: opts.emulators.deepgramUrl,
        BEDROCK_ENDPOINT: opts.emulators.bedrockUrl,
        ...(opts.sink === false ? {} : { SESSION_SINK_URL: sink.url, MEDIA_NODE_SECRET: secret }),
      },
      cpu: opts.cpu,
      urlPattern: /media node listening on (http:\/\/[^\s]+)/,
    });
  } catch (err) {
    await sink.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const target = (recognizer: Recognizer): MediaNodeTarget => {
    const { agent, prefix } = agents.find((a) => a.recognizer === recognizer)!;
    return {
      kind: "media-node",
      label: recognizer === "flux" ? "AYBIZA media node" : `AYBIZA media node (${RECOGNIZER_NAMES[recognizer]})`,
      service,
      sink,
      metricsUrl: `${service.url}/metrics`,
      streamUrl: `${service.url.replace(/^http/, "ws")}/v1/telephony/twilio`,
      async callParameters(callId) {
        const token = await signer.sign(
          {
            callId,
            tenantId: agent.tenantId,
            agentId: agent.agentId,
            agentVersion: agent.version,
            prefixHash: prefix.hash,
            region: MEDIA_NODE_REGION,
          },
          { ttlMs: 120_000 },
        );
        return { token };
      },
      withRecognizer: target,
      async stop() {
        await service.stop();
        await sink.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  };
  return target("flux");
}

const RECOGNIZER_NAMES: Record<Recognizer, string> = { flux: "Flux", "nova-3": "Nova-3" };

export interface BaselineTarget extends VoiceTarget {
  kind: "baseline";
  statsUrl: string;
}

export async function startBaselineTarget(opts: { emulators: Emulators; cpu: number | null }): Promise<BaselineTarget> {
  const service = await startService({
    name: "baseline relay",
    script: "bench/baseline/ws-relay.ts",
    env: {
      BASELINE_PORT: "0",
      DEEPGRAM_URL: opts.emulators.deepgramUrl,
      BEDROCK_ENDPOINT: opts.emulators.bedrockUrl,
    },
    cpu: opts.cpu,
    urlPattern: /baseline relay listening on (http:\/\/[^\s]+)/,
  });
  return {
    kind: "baseline",
    label: "baseline ws relay",
    service,
    statsUrl: `${service.url}/stats`,
    streamUrl: `${service.url.replace(/^http/, "ws")}/media`,
    async callParameters() {
      return {};
    },
    stop: () => service.stop(),
  };
}
