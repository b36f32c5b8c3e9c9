// The media node wired to its real providers (Deepgram, Bedrock), its agent directory and session sink, and
// (with EDGE_URL) registered with the edge by heartbeats. main.ts runs this; `npm start` and the benchmark run
// it in a child process against the emulators.
import { type AgentDirectory, AgentNotFoundError, loadAgentDirectoryFile } from "../admission/agent-directory.ts";
import { HttpAgentDirectory } from "../admission/http-agent-directory.ts";
import { HttpCheckpointSource } from "../admission/http-checkpoint-source.ts";
import type { MediaNodeConfig } from "../config.ts";
import { bedrockLlm } from "../providers/bedrock/llm.ts";
import { deepgramFluxStt } from "../providers/deepgram/flux-stt.ts";
import { deepgramRecognizers } from "../providers/deepgram/recognizers.ts";
import { deepgramStt } from "../providers/deepgram/stt.ts";
import { deepgramTts } from "../providers/deepgram/tts.ts";
import { HttpSessionSink, LogSessionSink } from "../session-sink/http.ts";
import type { SessionSink } from "../session-sink/types.ts";
import { type HeartbeatLoop, startHeartbeat } from "./heartbeat.ts";
import { createLogger } from "./logger.ts";
import { type MediaNodeDeps, type MediaNodeHandle, startMediaNode } from "./node.ts";

/** Without MEDIA_AGENTS_FILE or EDGE_URL the node knows no agents and refuses every call with 4404. */
const emptyDirectory: AgentDirectory = {
  async get(claims) {
    throw new AgentNotFoundError(claims);
  },
};

export interface RunningMediaNode extends MediaNodeHandle {
  /** Set when the node registers with an edge (EDGE_URL). */
  heartbeat: HeartbeatLoop | undefined;
}

export async function runMediaNode(
  config: MediaNodeConfig,
  overrides: { agents?: AgentDirectory; sink?: SessionSink } & Partial<Pick<MediaNodeDeps, "logger" | "fetch">> = {},
): Promise<RunningMediaNode> {
  const logger = overrides.logger ?? createLogger(config.logLevel, { node: config.nodeId });
  const agents =
    overrides.agents ??
    (config.agentsFile
      ? await loadAgentDirectoryFile(config.agentsFile)
      : config.edge
        ? new HttpAgentDirectory({
            edgeUrl: config.edge.url,
            nodeId: config.nodeId,
            secret: config.edge.secret,
            logger,
            ...(overrides.fetch ? { fetch: overrides.fetch } : {}),
          })
        : emptyDirectory);
  const sink =
    overrides.sink ??
    (config.sessionSink
      ? new HttpSessionSink({
          url: config.sessionSink.url,
          nodeId: config.nodeId,
          secret: config.sessionSink.secret,
          logger,
        })
      : new LogSessionSink(logger));
  const node = await startMediaNode(config, {
    // Each agent picks its recogniser (`recognizer`: Flux by default, Nova-3 where Flux does not fit).
    stt: deepgramRecognizers({
      flux: deepgramFluxStt({ apiKey: config.deepgram.apiKey, baseUrl: config.deepgram.url }),
      nova: deepgramStt({ apiKey: config.deepgram.apiKey, baseUrl: config.deepgram.url }),
    }),
    tts: deepgramTts({ apiKey: config.deepgram.apiKey, baseUrl: config.deepgram.url }),
    llm: bedrockLlm({
      region: config.bedrock.region,
      ...(config.bedrock.endpoint ? { endpoint: config.bedrock.endpoint } : {}),
      // The SDK insists on credentials even for the emulator; these never leave the machine.
      ...(config.bedrock.emulated
        ? { credentials: { accessKeyId: "local-emulator", secretAccessKey: "local-emulator" } }
        : {}),
    }),
    agents,
    sink,
    // Calls moved here from a lost node claim their checkpoint from the edge the session events go to.
    ...(config.sessionSink
      ? {
          checkpoints: new HttpCheckpointSource({
            baseUrl: config.sessionSink.url,
            nodeId: config.nodeId,
            secret: config.sessionSink.secret,
            ...(overrides.fetch ? { fetch: overrides.fetch } : {}),
          }),
        }
      : {}),
    logger,
  });
  if (!config.edge) return { ...node, heartbeat: undefined };

  const edge = config.edge;
  if (!edge.publicUrl && !["127.0.0.1", "::1", "localhost"].includes(config.host)) {
    logger.warn("MEDIA_PUBLIC_URL is not set; advertising this node's own address to the edge", { url: node.url });
  }
  const heartbeat = startHeartbeat({
    edgeUrl: edge.url,
    nodeId: config.nodeId,
    secret: edge.secret,
    region: config.region,
    streamBaseUrl: edge.publicUrl ?? node.url.replace(/^http/, "ws"),
    capacity: config.maxCalls,
    load: () => {
      const stats = node.stats();
      return { activeCalls: stats.activeCalls, draining: stats.draining };
    },
    intervalMs: edge.heartbeatMs,
    logger,
    ...(overrides.fetch ? { fetch: overrides.fetch } : {}),
  });
  return {
    ...node,
    heartbeat,
    drain(deadlineMs?: number) {
      const drained = node.drain(deadlineMs);
      // drain() marks the node draining at once; tell the edge now rather than at the next tick.
      void heartbeat.beat();
      return drained;
    },
    async close() {
      heartbeat.stop();
      await node.close();
      // A last beat says "draining", so the edge stops routing here before it would notice the silence (15 s).
      await Promise.race([heartbeat.beat(), new Promise((r) => setTimeout(r, 1_000).unref())]);
    },
  };
}
