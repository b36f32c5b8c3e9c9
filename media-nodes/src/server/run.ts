// The media node wired to its real providers (Deepgram, Bedrock) and sinks, from a validated config.
// main.ts runs this; the benchmark runs it in a child process against the emulators.
import { type AgentDirectory, AgentNotFoundError, loadAgentDirectoryFile } from "../admission/agent-directory.ts";
import type { MediaNodeConfig } from "../config.ts";
import { bedrockLlm } from "../providers/bedrock/llm.ts";
import { deepgramStt } from "../providers/deepgram/stt.ts";
import { deepgramTts } from "../providers/deepgram/tts.ts";
import { HttpSessionSink, LogSessionSink } from "../session-sink/http.ts";
import type { SessionSink } from "../session-sink/types.ts";
import { createLogger } from "./logger.ts";
import { type MediaNodeDeps, type MediaNodeHandle, startMediaNode } from "./node.ts";

/** Without MEDIA_AGENTS_FILE the node knows no agents and refuses every call with 4404 (until the edge serves them). */
const emptyDirectory: AgentDirectory = {
  async get(claims) {
    throw new AgentNotFoundError(claims);
  },
};

export async function runMediaNode(
  config: MediaNodeConfig,
  overrides: { agents?: AgentDirectory; sink?: SessionSink } & Partial<Pick<MediaNodeDeps, "logger">> = {},
): Promise<MediaNodeHandle> {
  const logger = overrides.logger ?? createLogger(config.logLevel, { node: config.nodeId });
  const agents =
    overrides.agents ?? (config.agentsFile ? await loadAgentDirectoryFile(config.agentsFile) : emptyDirectory);
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
  return startMediaNode(config, {
    stt: deepgramStt({ apiKey: config.deepgram.apiKey, baseUrl: config.deepgram.url }),
    tts: deepgramTts({ apiKey: config.deepgram.apiKey, baseUrl: config.deepgram.url }),
    llm: bedrockLlm({
      region: config.bedrock.region,
      ...(config.bedrock.endpoint ? { endpoint: config.bedrock.endpoint } : {}),
      // The SDK insists on credentials even for the emulator; these never leave the machine.
      ...(config.bedrock.emulated && !process.env.AWS_ACCESS_KEY_ID
        ? { credentials: { accessKeyId: "local-emulator", secretAccessKey: "local-emulator" } }
        : {}),
    }),
    agents,
    sink,
    logger,
  });
}
