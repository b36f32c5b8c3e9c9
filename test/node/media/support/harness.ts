// A media node in-process on port 0 with scripted fakes behind it, plus everything a test needs to place
// calls on it: signing keys, an agent in the directory, an in-memory session sink.

import type { z } from "zod";
import { InMemoryAgentDirectory } from "../../../../media-nodes/src/admission/agent-directory.ts";
import { loadConfig } from "../../../../media-nodes/src/config.ts";
import type { ToolRunnerPort } from "../../../../media-nodes/src/pipeline/call.ts";
import {
  FakeLlm,
  type FakeLlmOptions,
  type FakeLlmTurn,
  FakeStt,
  FakeTts,
  type FakeTtsOptions,
} from "../../../../media-nodes/src/providers/fake/index.ts";
import type { LlmProvider, SttProvider, TtsProvider } from "../../../../media-nodes/src/providers/types.ts";
import type { Logger } from "../../../../media-nodes/src/server/logger.ts";
import { type MediaNodeHandle, startMediaNode } from "../../../../media-nodes/src/server/node.ts";
import { InMemorySessionSink } from "../../../../media-nodes/src/session-sink/in-memory.ts";
import { type AgentRuntimeConfig, AgentRuntimeConfigSchema } from "../../../../shared/agent-config.ts";
import {
  type CallTokenSigner,
  type CallTokenSubject,
  generateCallTokenKeyPair,
  importCallTokenSigner,
} from "../../../../shared/call-token.ts";
import { compilePromptPrefix } from "../../../../shared/prompt-prefix.ts";

export const REGION = "test-1";

export interface HarnessOptions {
  /** Parsed like a stored agent: what is left out (a barge-in setting, say) takes its default. */
  agent?: Partial<z.input<typeof AgentRuntimeConfigSchema>>;
  llm?: FakeLlmTurn[];
  llmOptions?: FakeLlmOptions;
  /** Replace the fakes entirely (a provider that throttles; the real clients against the emulators). */
  llmProvider?: LlmProvider;
  sttProvider?: SttProvider;
  ttsProvider?: TtsProvider;
  tts?: FakeTtsOptions;
  env?: Record<string, string>;
  createToolRunner?: (agent: AgentRuntimeConfig) => ToolRunnerPort;
  fetch?: typeof fetch;
  now?: () => number;
  startTimeoutMs?: number;
  /** The node's logger (default: JSON lines at MEDIA_TEST_LOG, silent unless set). */
  logger?: Logger;
}

export interface Harness {
  node: MediaNodeHandle;
  sink: InMemorySessionSink;
  stt: FakeStt;
  llm: FakeLlm;
  tts: FakeTts;
  agent: AgentRuntimeConfig;
  directory: InMemoryAgentDirectory;
  signer: CallTokenSigner;
  /** A fresh call token for the harness agent (overrides change the signed claims). */
  token(overrides?: Partial<CallTokenSubject>, options?: { ttlMs?: number; now?: number }): Promise<string>;
  wsUrl(path?: string): string;
  close(): Promise<void>;
}

let callCounter = 0;

export function testAgent(overrides: Partial<z.input<typeof AgentRuntimeConfigSchema>> = {}): AgentRuntimeConfig {
  return AgentRuntimeConfigSchema.parse({
    tenantId: "ten_test",
    agentId: "agt_test",
    version: 1,
    systemPrompt: "You are a helpful receptionist for a bike shop.",
    firstMessage: null,
    ...overrides,
  });
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const keys = await generateCallTokenKeyPair();
  const signer = await importCallTokenSigner(keys.privateKey, keys.kid);
  const agent = testAgent(opts.agent);
  const prefix = await compilePromptPrefix(agent);
  const directory = new InMemoryAgentDirectory([agent]);
  const sink = new InMemorySessionSink();
  const stt = new FakeStt();
  const llm = new FakeLlm(opts.llm ?? [], opts.llmOptions);
  const tts = new FakeTts(opts.tts);
  const config = loadConfig({
    CALL_TOKEN_PUBLIC_KEYS: `${keys.kid}:${keys.publicKey}`,
    MEDIA_PORT: "0",
    MEDIA_HOST: "127.0.0.1",
    MEDIA_REGION: REGION,
    MEDIA_LOG_LEVEL: process.env.MEDIA_TEST_LOG ?? "silent",
    MEDIA_NODE_ID: "node-test",
    ...opts.env,
  });
  const node = await startMediaNode(config, {
    stt: opts.sttProvider ?? stt,
    llm: opts.llmProvider ?? llm,
    tts: opts.ttsProvider ?? tts,
    agents: directory,
    sink,
    llmFallback: { retries: 1, backoffMs: 5 },
    ...(opts.createToolRunner ? { createToolRunner: opts.createToolRunner } : {}),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.startTimeoutMs ? { startTimeoutMs: opts.startTimeoutMs } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  return {
    node,
    sink,
    stt,
    llm,
    tts,
    agent,
    directory,
    signer,
    token: (overrides = {}, options = {}) =>
      signer.sign(
        {
          callId: `call_${++callCounter}_${process.pid}`,
          tenantId: agent.tenantId,
          agentId: agent.agentId,
          agentVersion: agent.version,
          prefixHash: prefix.hash,
          region: REGION,
          ...overrides,
        },
        options,
      ),
    wsUrl: (path = "/v1/telephony/twilio") => `${node.url.replace(/^http/, "ws")}${path}`,
    close: () => node.close(),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` holds (generous timeouts: suites run on a loaded two-core box). */
export async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
