// The rounds of one reply: ask the model, turn its text into clauses as it streams, run the tools it asks
// for, and go again with their results, up to MAX_TOOL_ROUNDS. An async generator of steps (clauses, canned
// lines, call actions): it knows nothing of the pacer or the socket; the call plays what it yields.
import { performance } from "node:perf_hooks";
import type { AgentRuntimeConfig } from "../../../shared/agent-config.ts";
import { classifyTurn, selectModel } from "../../../shared/model-policy.ts";
import type { PromptPrefix } from "../../../shared/prompt-prefix.ts";
import type { CallActionEventAction } from "../../../shared/session-events.ts";
import { type ChatContent, LlmError, type LlmEvent, type LlmRequest } from "../providers/types.ts";
import type { Logger } from "../server/logger.ts";
import type { ToolCall, ToolRunner } from "../tools/runner.ts";
import { ClauseChunker } from "./chunker.ts";
import type { HandoffContext, History } from "./history.ts";
import type { Reply } from "./reply.ts";

/** What a call needs of a tool runner (the real one, or a test's). */
export type ToolRunnerPort = Pick<ToolRunner, "run">;

export interface LlmStreamer {
  stream(
    request: LlmRequest,
    modelIds: string[],
    fallbackRegions?: { region: string; modelIds: string[] }[],
  ): AsyncIterable<LlmEvent & { modelId?: string }>;
}

/** The agent a call is with: the admitted one, until a handoff hands the call to another. */
export interface CallAgent {
  agent: AgentRuntimeConfig;
  prefix: PromptPrefix;
  toolRunner: ToolRunnerPort;
}

export type HandoffAction = Extract<CallActionEventAction, { type: "handoff_to_agent" }>;

export interface RoundsContext {
  callId: string;
  tenantId: string;
  llm: LlmStreamer;
  history: History;
  agent(): CallAgent;
  /** Moves the call to the action's agent (or notes in the history that it could not). */
  handOff(action: HandoffAction & { agentVersion: number; prefixHash: string; context: HandoffContext }): Promise<void>;
  /** Called on every model event: the node's frame clock lets due frames leave during a burst. */
  poll?(): void;
  apology: string;
  log: Logger;
}

export type ReplyStep =
  /** A clause for TTS; `flush` asks for its audio at once (the first of a round is what the caller waits for). */
  | { type: "clause"; text: string; round: number; flush: boolean }
  | { type: "line"; source: "acknowledgement" | "apology"; text: string }
  | { type: "action"; action: CallActionEventAction };

const MAX_TOOL_ROUNDS = 4;

/** The model, thinking budget and output limit of this reply, for the agent the call is with. */
function plan(reply: Reply, agent: AgentRuntimeConfig) {
  const features = classifyTurn(reply.userText, agent);
  const selection = selectModel(agent.modelPolicy, features);
  reply.tier = selection.tier;
  const thinking = features.thinking && agent.thinkingBudgetTokens > 0;
  reply.thinking = thinking;
  // The agent's budget is the ceiling; the turn thinks for what its difficulty warrants.
  const budget = features.thinkingBudgetTokens;
  return { selection, thinking, budget, maxTokens: thinking ? agent.maxTokens + budget : agent.maxTokens };
}

export async function* replyRounds(reply: Reply, ctx: RoundsContext): AsyncGenerator<ReplyStep> {
  // A failed tool's own sentence says more than the generic apology if the model then fails too.
  let toolError: string | undefined;
  // Clauses of the round in progress, already on their way to the caller: a round is recorded when it completes.
  let partial: { round: number; clauses: string[] } = { round: -1, clauses: [] };
  try {
    for await (const step of rounds(reply, ctx, (text) => {
      toolError = text;
    })) {
      if (step.type === "clause") {
        if (step.round !== partial.round) partial = { round: step.round, clauses: [] };
        partial.clauses.push(step.text);
      }
      yield step;
    }
  } catch (err) {
    if (reply.signal.aborted || !(err instanceof LlmError)) throw err;
    ctx.log.warn("model failed; apologizing", { kind: err.kind, error: err.message });
    // A stream that broke mid-reply (a 5xx after the first words): what the caller heard stays the reply's text,
    // in the stored turn and in what the model is told it said.
    const heard = partial.round >= reply.generated.length ? partial.clauses.join(" ").trim() : "";
    if (heard) {
      reply.generated.push(heard);
      ctx.history.appendAssistant([{ type: "text", text: heard }]);
    }
    yield { type: "line", source: "apology", text: toolError ?? ctx.apology };
  }
}

async function* rounds(
  reply: Reply,
  ctx: RoundsContext,
  onToolError: (text: string) => void,
): AsyncGenerator<ReplyStep> {
  const signal = reply.signal;
  let current = ctx.agent();
  let p = plan(reply, current.agent);
  // Asked for at most once per reply (the call skips it if the reply's own audio is already playing).
  let acknowledged = false;
  const acknowledgement = (): ReplyStep | undefined => {
    if (acknowledged) return undefined;
    acknowledged = true;
    return { type: "line", source: "acknowledgement", text: current.agent.acknowledgement };
  };
  if (p.thinking) yield acknowledgement()!;
  // A reply's opener ("Sure," "Okay, so") goes to TTS at once: the caller is waiting for its first sound.
  const chunker = new ClauseChunker({ minFirstClauseWords: 1 });
  let firstClause = true;
  let round = 0;
  for (; round < MAX_TOOL_ROUNDS; round++) {
    reply.times.llmRequestAt ??= performance.now();
    let firstOfRound = true;
    const clause = (text: string): ReplyStep | undefined => {
      if (!text.trim()) return undefined;
      if (firstClause) reply.times.firstClauseAt ??= performance.now();
      const step: ReplyStep = { type: "clause", text, round, flush: firstOfRound };
      firstClause = false;
      firstOfRound = false;
      return step;
    };
    const request: LlmRequest = {
      modelId: p.selection.modelIds[0]!,
      system: current.prefix.system,
      tools: current.prefix.tools,
      messages: ctx.history.forRequest(),
      maxTokens: p.maxTokens,
      metadata: { callId: ctx.callId, tenantId: ctx.tenantId, agentId: current.agent.agentId },
      ...(p.thinking ? { thinkingBudgetTokens: p.budget } : {}),
      ...(reply.state === "speculative" ? { speculative: true } : {}),
      signal,
    };
    let text = "";
    const toolUses: ToolCall[] = [];
    const thoughts: ChatContent[] = [];
    for await (const event of ctx.llm.stream(request, p.selection.modelIds, p.selection.fallbackRegions)) {
      ctx.poll?.();
      if (signal.aborted) return;
      if (event.modelId && !reply.modelIds.has(event.modelId)) {
        reply.modelIds.add(event.modelId);
        reply.emit({ type: "model", modelId: event.modelId });
      }
      switch (event.type) {
        case "text": {
          reply.times.llmFirstTokenAt ??= performance.now();
          text += event.text;
          for (const c of chunker.push(event.text)) {
            const step = clause(c);
            if (step) yield step;
            if (signal.aborted) return;
          }
          break;
        }
        case "thinking":
          // Never spoken. The caller hears the acknowledgement while the model thinks.
          reply.times.llmFirstTokenAt ??= performance.now();
          if (!acknowledged) yield acknowledgement()!;
          break;
        case "thinking-block":
          // Kept in history unchanged: the model needs its signed reasoning back with its tool calls.
          thoughts.push(event.block);
          break;
        case "tool-use-start": {
          reply.times.toolCallOpenedAt ??= performance.now();
          // The first sign a tool is needed. Text before it is complete: speak it now rather than after the
          // tool's input has streamed. If the model said nothing, the caller hears the canned acknowledgement
          // while the input streams and the tool runs; if it did, that was its own.
          reply.times.llmFirstTokenAt ??= performance.now();
          for (const c of chunker.flush()) {
            const step = clause(c);
            if (step) yield step;
          }
          if (firstClause && !acknowledged) yield acknowledgement()!;
          break;
        }
        case "tool-use":
          reply.times.llmFirstTokenAt ??= performance.now();
          reply.times.toolCallOpenedAt ??= performance.now();
          toolUses.push({ id: event.id, name: event.name, input: event.input });
          if (firstClause && text.trim() === "" && !acknowledged) yield acknowledgement()!;
          break;
        case "usage":
          reply.addUsage(
            event.usage,
            event.modelId ?? request.modelId,
            event.speculative ?? request.speculative === true,
          );
          break;
        case "stop":
          break;
      }
    }
    if (signal.aborted) return;
    for (const c of chunker.flush()) {
      const step = clause(c);
      if (step) yield step;
    }
    reply.generated.push(text);
    const content: ChatContent[] = [...thoughts];
    if (text.trim()) content.push({ type: "text", text });
    for (const t of toolUses) content.push({ type: "tool-use", id: t.id, name: t.name, input: t.input });
    ctx.history.appendAssistant(content);
    if (toolUses.length === 0) return;

    // A speculative reply runs no tool (a tool may book, send or charge) until the caller's turn is confirmed.
    if (!(await reply.confirmed()) || signal.aborted) return;
    reply.toolsStarted = true;
    reply.state = "tools";
    const { outcomes, actions } = await current.toolRunner.run(toolUses, {
      callId: ctx.callId,
      tenantId: ctx.tenantId,
      history: ctx.history.forRequest(),
      signal,
    });
    // Interrupted while tools ran: the interruption already answered the calls in the history.
    if (signal.aborted) return;
    reply.state = "generating";
    for (const o of outcomes) {
      const record = { id: o.id, name: o.name, ok: o.ok, ms: Math.round(o.ms) };
      reply.tools.push(record);
      reply.emit({ type: "tool", record });
      if (!o.ok && o.spokenError) onToolError(o.spokenError);
    }
    ctx.history.appendToolResults(
      toolUses.map((t) => {
        const o = outcomes.find((x) => x.id === t.id);
        return {
          type: "tool-result" as const,
          toolUseId: t.id,
          content: o ? o.result : { error: "the tool did not run" },
          ...(o && !o.ok ? { isError: true } : {}),
        };
      }),
    );
    for (const action of actions) yield { type: "action", action };
    const handoff = actions.find((a) => a.type === "handoff_to_agent");
    if (handoff?.type === "handoff_to_agent" && handoff.agentVersion && handoff.prefixHash) {
      // The next round is the other agent's: its prompt and tools, the same turn, no silence in between.
      await ctx.handOff({ ...handoff, agentVersion: handoff.agentVersion, prefixHash: handoff.prefixHash });
      if (signal.aborted) return;
      current = ctx.agent();
      p = plan(reply, current.agent);
    }
  }
  ctx.log.warn("tool rounds exhausted", { rounds: round });
  yield { type: "line", source: "apology", text: ctx.apology };
}
