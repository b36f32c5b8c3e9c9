// One live call: the voice loop from the caller's audio to the agent's, with interruption flowing back.
//
//   transport → STT ─┬→ turn taking → conversation → LLM (fallback, model policy) → chunker → TTS → pacer → transport
//   local VAD ───────┘                       ▲                                                            │
//                                            └──── barge-in: clear, TTS Clear, LLM abort, trim history ◄──┘
//
// Everything a call does runs inside this object and its errors end this call only.
import { performance } from "node:perf_hooks";
import type { AgentRuntimeConfig } from "../../../shared/agent-config.ts";
import type { CallTokenClaims } from "../../../shared/call-token.ts";
import { classifyTurn, selectModel } from "../../../shared/model-policy.ts";
import type { PromptPrefix } from "../../../shared/prompt-prefix.ts";
import type { CallActionEventAction, CallEndReason, SessionEvent, Transport } from "../../../shared/session-events.ts";
import type { MediaMetrics } from "../metrics/media-metrics.ts";
import {
  type ChatContent,
  type ChatMessage,
  LlmError,
  type LlmEvent,
  type LlmRequest,
  type SttEvent,
  type SttProvider,
  type SttSession,
  type SttWord,
  type TtsProvider,
} from "../providers/types.ts";
import { CloseCode } from "../server/close-codes.ts";
import type { Logger } from "../server/logger.ts";
import type { SessionSink } from "../session-sink/types.ts";
import type { WebNotice } from "../transports/types.ts";
import type { AudioCache } from "./audio-cache.ts";
import { BargeInPolicyEvaluator } from "./barge-in.ts";
import { ClauseChunker } from "./chunker.ts";
import { Conversation } from "./conversation.ts";
import type { FrameClock } from "./frame-clock.ts";
import { OutboundPacer, type PacerLink } from "./pacer.ts";
import { type AudioSource, SpeechOutput } from "./speech-output.ts";
import { SttFeed } from "./stt-feed.ts";
import { Turn } from "./turn.ts";
import { EnergyVad } from "./vad.ts";

export interface ToolCallLike {
  id: string;
  name: string;
  input: unknown;
}
export interface ToolOutcomeLike {
  id: string;
  name: string;
  ok: boolean;
  result: unknown;
  spokenError?: string;
  ms: number;
}
/** The slice of the ToolRunner the session uses. */
export interface ToolRunnerLike {
  run(
    calls: ToolCallLike[],
    ctx: { callId: string; tenantId: string; history: ChatMessage[]; signal?: AbortSignal },
  ): Promise<{ outcomes: ToolOutcomeLike[]; actions: CallActionEventAction[] }>;
}

export interface LlmStreamer {
  stream(
    request: LlmRequest,
    modelIds: string[],
    fallbackRegions?: { region: string; modelIds: string[] }[],
  ): AsyncIterable<LlmEvent & { modelId?: string }>;
}

/** The socket side of a call; the server implements it over uWebSockets.js and a transport codec. */
export interface CallLink extends PacerLink {
  sendClear(): void;
  sendNotice(notice: WebNotice): void;
  end(code: number, reason: string): void;
  readonly closed: boolean;
}

export interface CallSessionDeps {
  stt: SttProvider;
  llm: LlmStreamer;
  /** Already wrapped with the agent's fallback voice. */
  tts: TtsProvider;
  toolRunner: ToolRunnerLike;
  sink: SessionSink;
  metrics: MediaMetrics;
  clock: FrameClock;
  audioCache: AudioCache;
  logger: Logger;
  nodeId: string;
  deadAirMs: number;
  lines: { filler: string; apology: string; drainGoodbye: string };
  /**
   * The version a handoff names, resolved and checked like an admitted call's, with its tool runner. Absent: a
   * handoff only records its context packet and the caller stays with the agent.
   */
  handOff?: (claims: CallTokenClaims) => Promise<HandoffTarget | { ok: false; reason: string }>;
  onEnded?: (session: CallSession) => void;
}

export interface HandoffTarget {
  ok: true;
  agent: AgentRuntimeConfig;
  prefix: PromptPrefix;
  toolRunner: ToolRunnerLike;
}

export interface CallSessionInit {
  claims: CallTokenClaims;
  agent: AgentRuntimeConfig;
  prefix: PromptPrefix;
  transport: Transport;
  link: CallLink;
  carrier: { streamId?: string; callRef?: string };
}

const MAX_TOOL_ROUNDS = 4;
const MAX_FILLERS_PER_TURN = 3;
/** When a carrier never echoes marks (a browser that ignores them), playback is taken as done this long after the last frame. */
const PLAYBACK_GRACE_MS = 1_500;
const PRE_START_FRAMES = 50;
const FRAME_MS = 20;
/** Recognizer end-of-utterance settings: silence before a final, and gap before UtteranceEnd. */
const STT_ENDPOINTING_MS = 300;
const STT_UTTERANCE_END_MS = 1_000;

const toEpoch = (t: number) => Math.round(performance.timeOrigin + t);

export class CallSession {
  readonly callId: string;
  readonly conversation = new Conversation();
  readonly pacer: OutboundPacer;
  readonly vad = new EnergyVad();
  /** Until both end-of-utterance answers can have come (plus a margin), caller audio is not batched. */
  readonly sttFeed = new SttFeed({ promptWindowMs: STT_ENDPOINTING_MS + STT_UTTERANCE_END_MS + 200 });
  readonly startedAt = performance.now();
  /** Every finished turn, for stats and tests. */
  readonly turns: Turn[] = [];
  readonly #init: CallSessionInit;
  readonly #deps: CallSessionDeps;
  readonly #log: Logger;
  readonly #speech: SpeechOutput;
  // The agent the call is with: the admitted one, until a handoff hands the call to another.
  #agent: AgentRuntimeConfig;
  #prefix: PromptPrefix;
  #toolRunner: ToolRunnerLike;
  #bargeIn: BargeInPolicyEvaluator;
  /** The call keeps the voice it started with: the TTS session and the cached lines are in it. */
  readonly #voice: string;
  #stt: SttSession | undefined;
  #sttReopens = 0;
  #turn: Turn | undefined;
  #turnCount = 0;
  #seq = 0;
  #ended = false;
  #started = false;
  #preStart: Uint8Array[] = [];
  /** Finals of the utterance in progress that belong to the caller's next turn. */
  #userFinals: { text: string; words: SttWord[] }[] = [];
  /** Finals heard while the agent was audible and not (yet) counted as an interruption. */
  #overSpeech: { text: string; words: SttWord[] }[] = [];
  #interim: { text: string; words: SttWord[] } | undefined;
  /** The utterance in progress already interrupted the agent. */
  #interrupting = false;
  #lastFinalAt = 0;
  #drainWaiter: (() => void) | undefined;
  lastBargeIn: { detectedAt: number; clearSentAt: number } | undefined;

  constructor(init: CallSessionInit, deps: CallSessionDeps) {
    this.#init = init;
    this.#deps = deps;
    this.callId = init.claims.callId;
    this.#agent = init.agent;
    this.#prefix = init.prefix;
    this.#toolRunner = deps.toolRunner;
    this.#voice = init.agent.voice;
    this.#log = deps.logger.child({ callId: this.callId });
    this.#bargeIn = new BargeInPolicyEvaluator(init.agent.bargeIn);
    const metrics = deps.metrics;
    this.pacer = new OutboundPacer({
      link: init.link,
      onLateness: (ms) => {
        metrics.frameLateness.observe(ms);
        metrics.framesSent.inc();
      },
      onFrameSent: (sent, now, frame) => {
        // The VAD learns how loud we are, so an echo of the agent below that is not taken for the caller.
        this.vad.noteOutbound(frame, now);
        this.#onFrameSent(sent, now);
      },
      onDeferred: () => metrics.framesDeferred.inc(),
      onSlowConsumer: () => {
        metrics.slowConsumers.inc();
        this.end(
          "slow-consumer",
          "peer did not read its audio",
          CloseCode.slowConsumer,
          "slow consumer: audio not read",
        );
      },
      onTick: (now) => this.#watchdog(now),
    });
    this.#speech = new SpeechOutput(
      this.pacer,
      {
        onEnqueue: (turn, source, at) => this.#onEnqueue(turn, source, at),
        onTtsFirstByte: (turn) => {
          const t = this.#turn;
          if (t && t.index === turn) t.times.ttsFirstByteAt ??= performance.now();
        },
        onTurnAudioComplete: (turn, endMark) => {
          const t = this.#turn;
          if (t && t.index === turn) t.endMark = endMark;
        },
      },
      () => performance.now(),
    );
  }

  get agent(): AgentRuntimeConfig {
    return this.#agent;
  }

  get ended(): boolean {
    return this.#ended;
  }

  get turnCount(): number {
    return this.#turnCount;
  }

  // ── lifecycle ─────────────────────────────────────────────────────────────────────────────────

  /** Opens the providers and greets the caller. Admission already happened: this is the first cost. */
  async start(): Promise<void> {
    const { agent, claims } = this.#init;
    this.#publish({
      type: "call.started",
      callId: this.callId,
      seq: 0,
      tenantId: claims.tenantId,
      agentId: claims.agentId,
      agentVersion: claims.agentVersion,
      region: claims.region,
      nodeId: this.#deps.nodeId,
      transport: this.#init.transport,
      carrier: this.#init.carrier,
      at: Date.now(),
    });
    this.#warmLines();
    try {
      const [stt, tts] = await Promise.all([
        this.#openStt(),
        this.#deps.tts.open({ voice: agent.voice, encoding: "mulaw", sampleRate: 8_000 }, (e) =>
          this.#guard("tts", () => this.#speech.onTtsEvent(e)),
        ),
      ]);
      if (this.#ended) {
        await Promise.allSettled([stt.close(), tts.close()]);
        return;
      }
      this.#stt = stt;
      this.#speech.tts = tts;
    } catch (err) {
      this.#log.error("provider open failed", { error: String(err) });
      this.end(
        "provider-failure",
        `could not open speech providers: ${String(err)}`,
        CloseCode.unavailable,
        "speech providers unavailable",
      );
      return;
    }
    this.#started = true;
    this.#deps.clock.add(this.pacer);
    for (const frame of this.#preStart) this.#stt?.sendAudio(frame);
    this.#preStart = [];
    this.#init.link.sendNotice({ type: "ready", callId: this.callId, sampleRate: 16_000 });
    if (agent.firstMessage) this.#greet(agent.firstMessage);
  }

  #openStt(): Promise<SttSession> {
    const agent = this.#agent;
    return this.#deps.stt.open(
      {
        encoding: "mulaw",
        sampleRate: 8_000,
        language: agent.language,
        endpointingMs: STT_ENDPOINTING_MS,
        utteranceEndMs: STT_UTTERANCE_END_MS,
        ...(agent.keyterms.length ? { keyterms: agent.keyterms } : {}),
        tag: this.callId,
      },
      (e) => this.#guard("stt", () => this.#onStt(e)),
    );
  }

  #warmLines(): void {
    const lines = this.#deps.lines;
    for (const text of [this.#agent.acknowledgement, lines.filler, lines.apology, lines.drainGoodbye]) {
      void this.#deps.audioCache.warm(this.#deps.tts, this.#voice, text);
    }
  }

  /**
   * Ends the call once: stops the providers, publishes what is left, closes the socket (unless the peer
   * already did). Safe to call from anywhere, any number of times.
   */
  end(reason: CallEndReason, detail?: string, code: number = CloseCode.normal, closeText = "call ended"): void {
    if (this.#ended) return;
    this.#ended = true;
    const turn = this.#turn;
    if (turn) {
      turn.abort.abort();
      this.#publishTurn(turn);
    }
    this.#deps.clock.remove(this.pacer);
    this.pacer.close();
    const stt = this.#stt;
    const tts = this.#speech.tts;
    this.#stt = undefined;
    this.#speech.tts = undefined;
    this.sttFeed.flush(stt);
    void stt?.close().catch(() => {});
    void tts?.close().catch(() => {});
    this.#deps.metrics.callsEnded.inc({ reason });
    this.#publish({
      type: "call.ended",
      callId: this.callId,
      seq: 0,
      reason,
      ...(detail ? { detail: detail.slice(0, 500) } : {}),
      durationMs: Math.round(performance.now() - this.startedAt),
      turns: this.#turnCount,
      at: Date.now(),
    });
    this.#log.info("call ended", { reason, detail });
    if (!this.#init.link.closed) {
      this.#init.link.sendNotice({ type: "end", reason: closeText });
      this.#init.link.end(code, closeText);
    }
    this.#drainWaiter?.();
    this.#deps.onEnded?.(this);
  }

  /** Drain deadline: stop whatever is being said, say goodbye, and end once it has played. */
  async endWithGoodbye(maxWaitMs = 8_000): Promise<void> {
    if (this.#ended) return;
    const text = this.#deps.lines.drainGoodbye;
    const audio = this.#deps.audioCache.get(this.#voice, text);
    this.#interrupt(performance.now(), "drain");
    if (audio && this.#started) {
      const done = new Promise<void>((resolve) => {
        this.#drainWaiter = resolve;
      });
      this.#speech.playCanned(this.#turn?.index ?? 0, "goodbye", audio, "drain-goodbye");
      const playMs = audio.length / 8 + 500;
      await Promise.race([done, new Promise((r) => setTimeout(r, Math.min(maxWaitMs, playMs)))]);
    }
    this.end("drain-deadline", "node shutting down", CloseCode.goingAway, "media node shutting down");
  }

  // ── inbound ───────────────────────────────────────────────────────────────────────────────────

  onAudio(frame: Uint8Array): void {
    if (this.#ended) return;
    if (!this.#started) {
      if (this.#preStart.length < PRE_START_FRAMES) this.#preStart.push(frame.slice());
      return;
    }
    const now = performance.now();
    const speaking = this.vad.process(frame, now);
    this.sttFeed.push(this.#stt, frame, now, this.vad.lastVoicedAt);
    if (speaking && !this.#interrupting && this.#agentAudible(now) && (this.#overSpeech.length || this.#interim)) {
      this.#maybeBargeIn(now);
    }
  }

  onMark(name: string): void {
    if (this.#ended) return;
    if (name === "drain-goodbye") {
      this.#drainWaiter?.();
      return;
    }
    this.#speech.onMarkEchoed(name);
    const turn = this.#turn;
    if (turn && name === turn.endMark) this.#onPlaybackDone(turn);
  }

  onDtmf(digit: string): void {
    this.#log.debug("dtmf", { digit });
  }

  // ── speech to text and turn taking ────────────────────────────────────────────────────────────

  #onStt(event: SttEvent): void {
    if (this.#ended) return;
    const now = performance.now();
    switch (event.type) {
      case "interim":
        this.#interim = event.text.trim() ? { text: event.text, words: event.words } : undefined;
        if (this.#interim && !this.#interrupting && this.#agentAudible(now)) this.#maybeBargeIn(now);
        return;
      case "final": {
        this.#interim = undefined;
        if (event.text.trim()) {
          this.#lastFinalAt = now;
          const piece = { text: event.text.trim(), words: event.words };
          if (!this.#interrupting && this.#agentAudible(now)) {
            this.#overSpeech.push(piece);
            this.#maybeBargeIn(now);
          } else {
            this.#userFinals.push(piece);
          }
        }
        if (event.speechFinal) this.#endOfUtterance(now);
        return;
      }
      case "utterance-end":
        this.#endOfUtterance(now);
        return;
      case "speech-started":
        return;
      case "closed":
        this.#stt = undefined;
        void this.#reopenStt(event.reason);
        return;
    }
  }

  async #reopenStt(reason: string): Promise<void> {
    // The provider's own session already retried; one more fresh session before giving up on the call.
    if (this.#sttReopens++ >= 1) {
      this.end(
        "provider-failure",
        `speech recognition lost: ${reason}`,
        CloseCode.unavailable,
        "speech recognition unavailable",
      );
      return;
    }
    try {
      const stt = await this.#openStt();
      if (this.#ended) void stt.close();
      else this.#stt = stt;
    } catch (err) {
      this.end(
        "provider-failure",
        `speech recognition lost: ${String(err)}`,
        CloseCode.unavailable,
        "speech recognition unavailable",
      );
    }
  }

  #agentAudible(now: number): boolean {
    if (this.pacer.queuedBytes > 0) return true;
    // The carrier proved the end of the turn played: the agent is done even if its last frame just left.
    if (this.#turn?.playbackDone) return false;
    return this.pacer.isPlaying(now);
  }

  #maybeBargeIn(now: number): void {
    const pieces = [...this.#overSpeech, ...(this.#interim ? [this.#interim] : [])];
    if (pieces.length === 0) return;
    const callerText = pieces.map((p) => p.text).join(" ");
    const words = pieces.flatMap((p) => p.words);
    const interrupt = this.#bargeIn.shouldInterrupt({
      callerText,
      words,
      vadSpeechMs: this.vad.speechMs(now),
      agentSentence: this.#speech.recentText(),
    });
    if (!interrupt) return;
    this.#interrupting = true;
    this.#userFinals.push(...this.#overSpeech);
    this.#overSpeech = [];
    this.#interrupt(now, "barge-in");
  }

  /** Stops the agent at once: carrier clear first (within this frame), then TTS, LLM and tools. */
  #interrupt(detectedAt: number, why: "barge-in" | "superseded" | "drain" | "fold"): void {
    const turn = this.#turn;
    const audible = this.#agentAudible(detectedAt);
    if (audible) this.#init.link.sendClear();
    const clearSentAt = performance.now();
    if (turn && !turn.published) {
      turn.heard = this.#speech.heardByRound(turn.index);
      turn.interrupted = true;
      if (audible) turn.clearDelayMs = Math.round((clearSentAt - detectedAt) * 1000) / 1000;
      turn.abort.abort();
    }
    this.pacer.clear();
    this.#speech.interrupt();
    if (why === "barge-in") {
      this.lastBargeIn = { detectedAt, clearSentAt };
      this.#deps.metrics.bargeIns.inc();
      this.#log.debug("barge-in", { clearDelayMs: clearSentAt - detectedAt });
    }
    if (turn && !turn.published && why !== "fold") {
      this.#applyHeard(turn);
      this.#publishTurn(turn);
    }
  }

  #endOfUtterance(now: number): void {
    // Heard over the agent and not an interruption: a back-channel or our own echo, not a turn. Unless
    // the agent has finished meanwhile and the caller said something of their own: that is an answer.
    if (this.#overSpeech.length > 0 && !this.#agentAudible(now)) {
      const text = this.#overSpeech.map((p) => p.text).join(" ");
      if (this.#bargeIn.meaningfulWords(text, this.#speech.recentText()).length > 0) {
        this.#userFinals.push(...this.#overSpeech);
      }
    }
    this.#overSpeech = [];
    this.#interrupting = false;
    if (this.#userFinals.length === 0) return;
    const text = this.#userFinals.map((f) => f.text).join(" ");
    this.#userFinals = [];
    // The VAD knows when the caller stopped; without it (inaudible line), the last final is the best we have.
    const vadEnd = this.vad.lastVoicedAt;
    const speechEndAt = now - vadEnd < 3_000 ? Math.min(vadEnd + 20, now) : this.#lastFinalAt;
    this.#startUserTurn(text, speechEndAt, now);
  }

  #startUserTurn(userText: string, speechEndAt: number, sttFinalAt: number): void {
    let text = userText;
    const prev = this.#turn;
    if (prev && !prev.published) {
      const heardNothing = prev.firstByteAt === undefined || this.pacer.sentBytes <= prev.firstByteAt;
      if (heardNothing && !prev.toolsStarted && prev.index > 0) {
        // The caller went on talking before the agent said anything: one turn, one reply.
        this.#interrupt(performance.now(), "fold");
        prev.published = true;
        this.conversation.rewind(prev.history);
        text = `${prev.userText} ${userText}`;
      } else if (prev.owesReply || this.#agentAudible(performance.now())) {
        this.#interrupt(performance.now(), "superseded");
      } else {
        this.#publishTurn(prev);
      }
    }
    const turn = new Turn(++this.#turnCount, text);
    turn.times.speechEndAt = speechEndAt;
    turn.times.sttFinalAt = sttFinalAt;
    turn.history = this.conversation.mark();
    this.#turn = turn;
    this.conversation.appendUserText(text);
    this.#init.link.sendNotice({ type: "transcript", role: "user", text });
    void this.#runTurn(turn);
  }

  // ── agent turns ───────────────────────────────────────────────────────────────────────────────

  #greet(text: string): void {
    const turn = new Turn(0, "");
    this.#turn = turn;
    turn.history = this.conversation.mark();
    turn.generated.push(text);
    this.conversation.append("assistant", [{ type: "text", text }]);
    this.#speech.speak(turn.index, 0, text, true);
    turn.times.firstClauseAt = performance.now();
    turn.replyDone = true;
    this.#speech.endTurn(turn.index);
  }

  async #runTurn(turn: Turn): Promise<void> {
    try {
      await this.#reply(turn);
    } catch (err) {
      if (turn.abort.signal.aborted || this.#ended) return;
      if (err instanceof LlmError) {
        this.#log.warn("model failed; apologizing", { kind: err.kind, error: err.message });
        this.#playLine(turn, "apology", this.#deps.lines.apology);
        turn.replyDone = true;
        this.#speech.endTurn(turn.index);
        return;
      }
      this.#deps.metrics.callErrors.inc({ stage: "turn" });
      this.#log.error("turn failed", { error: String(err), stack: err instanceof Error ? err.stack : undefined });
      this.end("internal-error", String(err), CloseCode.internalError, "internal error");
    }
  }

  /** The model, thinking budget and output limit of this turn, for the agent the call is with. */
  #plan(turn: Turn) {
    const agent = this.#agent;
    const features = classifyTurn(turn.userText, agent);
    const selection = selectModel(agent.modelPolicy, features);
    turn.tier = selection.tier;
    const thinking = features.thinking && agent.thinkingBudgetTokens > 0;
    turn.thinking = thinking;
    // The agent's budget is the ceiling; the turn thinks for what its difficulty warrants.
    const budget = features.thinkingBudgetTokens;
    return { selection, thinking, budget, maxTokens: thinking ? agent.maxTokens + budget : agent.maxTokens };
  }

  async #reply(turn: Turn): Promise<void> {
    const { claims } = this.#init;
    const signal = turn.abort.signal;
    let plan = this.#plan(turn);
    if (plan.thinking) this.#acknowledge(turn);
    const chunker = new ClauseChunker();
    let firstClause = true;
    let firstOfRound = true;
    const speak = (clause: string) => {
      if (signal.aborted || !clause.trim()) return;
      if (firstClause) turn.times.firstClauseAt ??= performance.now();
      // The first clause of each round is flushed at once: it is what the caller is waiting for.
      this.#speech.speak(turn.index, round, clause, firstOfRound);
      firstClause = false;
      firstOfRound = false;
    };
    let round = 0;
    for (; round < MAX_TOOL_ROUNDS; round++) {
      turn.times.llmRequestAt ??= performance.now();
      firstOfRound = true;
      const { selection, thinking, budget, maxTokens } = plan;
      const request: LlmRequest = {
        modelId: selection.modelIds[0]!,
        system: this.#prefix.system,
        tools: this.#prefix.tools,
        messages: this.conversation.forRequest(),
        maxTokens,
        metadata: { callId: this.callId, tenantId: claims.tenantId, agentId: this.#agent.agentId },
        ...(thinking ? { thinkingBudgetTokens: budget } : {}),
        signal,
      };
      let text = "";
      const toolUses: ToolCallLike[] = [];
      const thoughts: ChatContent[] = [];
      for await (const event of this.#deps.llm.stream(request, selection.modelIds, selection.fallbackRegions)) {
        this.#deps.clock.runDue();
        if (signal.aborted) break;
        if (event.modelId && !turn.modelIds.has(event.modelId)) {
          turn.modelIds.add(event.modelId);
          this.#deps.metrics.llmRequests.inc({ model: event.modelId });
        }
        switch (event.type) {
          case "text":
            turn.times.llmFirstTokenAt ??= performance.now();
            text += event.text;
            for (const clause of chunker.push(event.text)) speak(clause);
            break;
          case "thinking":
            // Never spoken. The caller hears the acknowledgement while the model thinks.
            turn.times.llmFirstTokenAt ??= performance.now();
            this.#acknowledge(turn);
            break;
          case "thinking-block":
            // Kept in history unchanged: the model needs its signed reasoning back with its tool calls.
            thoughts.push(event.block);
            break;
          case "tool-use-start":
            // The first sign a tool is needed. Text before it is complete: speak it now rather than after
            // the tool's input has streamed. If the model said nothing, the caller hears the canned
            // acknowledgement while the input streams and the tool runs; if it did, that was its own.
            turn.times.llmFirstTokenAt ??= performance.now();
            for (const clause of chunker.flush()) speak(clause);
            if (firstClause) this.#acknowledge(turn);
            break;
          case "tool-use":
            turn.times.llmFirstTokenAt ??= performance.now();
            toolUses.push({ id: event.id, name: event.name, input: event.input });
            if (firstClause && text.trim() === "") this.#acknowledge(turn);
            break;
          case "usage":
            turn.usage.inputTokens += event.usage.inputTokens;
            turn.usage.outputTokens += event.usage.outputTokens;
            turn.usage.cacheReadInputTokens += event.usage.cacheReadInputTokens;
            turn.usage.cacheWriteInputTokens += event.usage.cacheWriteInputTokens;
            break;
          case "stop":
            break;
        }
      }
      if (signal.aborted) return;
      for (const clause of chunker.flush()) speak(clause);
      turn.generated.push(text);
      const content: ChatContent[] = [...thoughts];
      if (text.trim()) content.push({ type: "text", text });
      for (const t of toolUses) content.push({ type: "tool-use", id: t.id, name: t.name, input: t.input });
      this.conversation.append("assistant", content);
      if (toolUses.length === 0) break;

      turn.toolsStarted = true;
      const { outcomes, actions } = await this.#toolRunner.run(toolUses, {
        callId: this.callId,
        tenantId: claims.tenantId,
        history: this.conversation.forRequest(),
        signal,
      });
      // Interrupted while tools ran: the interruption already answered the calls in the history.
      if (signal.aborted) return;
      for (const o of outcomes) {
        turn.tools.push({ id: o.id, name: o.name, ok: o.ok, ms: Math.round(o.ms) });
        this.#deps.metrics.toolCalls.inc({ outcome: o.ok ? "ok" : "error" });
      }
      this.conversation.append(
        "user",
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
      for (const action of actions) this.#onAction(turn, action);
      const handoff = actions.find((a) => a.type === "handoff_to_agent");
      if (handoff?.type === "handoff_to_agent" && handoff.agentVersion && handoff.prefixHash) {
        // The next round is the other agent's: its prompt and tools, the same turn, no silence in between.
        await this.#handOff(handoff.agentId, handoff.agentVersion, handoff.prefixHash, handoff.context);
        if (signal.aborted) return;
        plan = this.#plan(turn);
      }
    }
    if (round >= MAX_TOOL_ROUNDS) {
      this.#log.warn("tool rounds exhausted", { rounds: round });
      this.#playLine(turn, "apology", this.#deps.lines.apology);
    }
    turn.replyDone = true;
    this.#speech.endTurn(turn.index);
    if (turn.generated.join("").trim()) {
      this.#init.link.sendNotice({ type: "transcript", role: "assistant", text: turn.generated.join(" ").trim() });
    }
  }

  /**
   * Hands the call to another agent's published version: its prompt prefix (cache point and all), tools, model
   * policy and barge-in thresholds from the next request on. Tool calls in the history become text, because the
   * new agent's tool list does not have the old one's; a note tells it what the edge's context packet says. The
   * call keeps its voice. If the version cannot be had, the first agent is told to carry on.
   */
  async #handOff(
    agentId: string,
    agentVersion: number,
    prefixHash: string,
    context: { entities: Record<string, string>; intent: string; reason: string },
  ): Promise<void> {
    const target = this.#deps.handOff
      ? await this.#deps.handOff({ ...this.#init.claims, agentId, agentVersion, prefixHash })
      : { ok: false as const, reason: "handoffs are not available on this node" };
    if (!target.ok) {
      this.#log.warn("handoff failed; the agent carries on", { agentId, reason: target.reason });
      this.conversation.appendUserText(
        "(The handoff did not go through: the other agent is not available. Keep helping the caller yourself.)",
      );
      return;
    }
    const from = this.#agent.agentId;
    this.#agent = target.agent;
    this.#prefix = target.prefix;
    this.#toolRunner = target.toolRunner;
    this.#bargeIn = new BargeInPolicyEvaluator(target.agent.bargeIn);
    this.#warmLines();
    this.conversation.flattenToolUse();
    const details = Object.entries(context.entities)
      .map(([k, v]) => `${k}: ${v}`)
      .join("; ");
    this.conversation.appendUserText(
      `(This call was just handed to you from another agent, and the caller is on the line now. ` +
        `What they want: ${context.intent || "see the conversation above"}.` +
        (context.reason ? ` Why it was handed over: ${context.reason}.` : "") +
        (details ? ` Details: ${details}.` : "") +
        " Greet them briefly as yourself and carry on.)",
    );
    this.#log.info("call handed to another agent", { from, to: agentId, version: agentVersion });
  }

  #onAction(turn: Turn, action: CallActionEventAction): void {
    this.#publish({
      type: "action",
      callId: this.callId,
      seq: 0,
      turnIndex: turn.index,
      action,
      at: Date.now(),
    });
    if (action.type === "end_call") turn.endCallAfterPlayback = true;
  }

  /** The pre-synthesized acknowledgement, once per turn, only if nothing of the turn is playing yet. */
  #acknowledge(turn: Turn): void {
    if (turn.acknowledged || turn.firstByteAt !== undefined) return;
    turn.acknowledged = true;
    this.#playLine(turn, "acknowledgement", this.#agent.acknowledgement);
  }

  #playLine(turn: Turn, source: AudioSource, text: string): void {
    const audio = this.#deps.audioCache.get(this.#voice, text);
    turn.times.cannedAt ??= performance.now();
    if (audio) {
      this.#speech.playCanned(turn.index, source, audio, `t${turn.index}${source}${turn.fillers}`);
    } else {
      // Not synthesized yet (or synthesis failed): say it through the live session instead.
      this.#speech.speak(turn.index, -1, text, true);
    }
  }

  #onEnqueue(turnIndex: number, source: AudioSource, at: number): void {
    const turn = this.#turn;
    if (!turn || turn.index !== turnIndex || turn.firstByteAt !== undefined) return;
    turn.firstByteAt = at;
    turn.firstSource = source;
    // An idle line starts at once rather than waiting up to a frame for this call's clock slot.
    if (this.pacer.sentBytes === at && performance.now() - this.pacer.lastFrameAt > 40) {
      this.pacer.onTick(performance.now(), performance.now());
    }
  }

  #onFrameSent(sentBytes: number, now: number): void {
    const turn = this.#turn;
    if (
      turn &&
      turn.firstByteAt !== undefined &&
      turn.times.firstAudioOutAt === undefined &&
      sentBytes > turn.firstByteAt
    ) {
      turn.times.firstAudioOutAt = now;
    }
  }

  /**
   * Dead air: the agent owes a reply and the caller has heard nothing for deadAirMs, counted from the
   * end of their speech (recognition latency is silence the caller hears too) or the last frame played.
   */
  #watchdog(now: number): void {
    const turn = this.#turn;
    if (!turn || turn.published) return;
    if (!turn.owesReply) {
      // Playback done without the carrier echoing our end mark (some browsers): don't wait forever.
      if (turn.endMark && this.pacer.queuedBytes === 0 && now - this.pacer.lastFrameAt > PLAYBACK_GRACE_MS) {
        this.#onPlaybackDone(turn);
      }
      return;
    }
    if (this.pacer.queuedBytes > 0 || turn.fillers >= MAX_FILLERS_PER_TURN) return;
    const since = Math.max(this.pacer.lastFrameAt, turn.times.speechEndAt ?? turn.times.sttFinalAt ?? turn.startedAt);
    // Checked once a frame: fire on the last tick before the limit, so the line is already playing at it.
    if (now - since < this.#deps.deadAirMs - FRAME_MS) return;
    turn.fillers += 1;
    this.#deps.metrics.fillers.inc();
    this.#log.info("dead air; playing filler", { turn: turn.index });
    this.#playLine(turn, "filler", this.#deps.lines.filler);
  }

  #onPlaybackDone(turn: Turn): void {
    if (turn.playbackDone) return;
    turn.playbackDone = true;
    this.#publishTurn(turn);
    if (turn.endCallAfterPlayback)
      this.end("agent-ended", "the agent ended the call", CloseCode.normal, "call ended by agent");
  }

  /** Cuts the assistant's messages of this turn to what the caller heard. */
  #applyHeard(turn: Turn): void {
    const heard = turn.heard ?? new Map<number, string>();
    const messages = this.conversation.messages;
    let round = 0;
    const keep: ChatMessage[] = [];
    // Messages from the mark on belong to this turn (its user text may have merged into the one before).
    const from = turn.history.length;
    for (let i = from; i < messages.length; i++) {
      const m = messages[i]!;
      if (m.role === "assistant") {
        const text = heard.get(round) ?? "";
        const content: ChatContent[] = m.content.filter((c) => c.type !== "text");
        if (text) content.unshift({ type: "text", text });
        round += 1;
        // Reasoning alone is not a message the model accepts back; it goes with its text or tool calls.
        if (content.some((c) => c.type !== "thinking")) keep.push({ role: "assistant", content });
        continue;
      }
      keep.push(m);
    }
    // The round in flight never reached the history: add what was heard of it.
    const inFlight = heard.get(round);
    this.conversation.truncate(from);
    for (const m of keep) this.conversation.append(m.role, m.content);
    if (inFlight) this.conversation.append("assistant", [{ type: "text", text: inFlight }]);
    // Tool calls whose results never came back (the caller cut in while they ran) must still be answered.
    const last = this.conversation.messages.at(-1);
    const pending =
      last?.role === "assistant"
        ? last.content.filter((c): c is Extract<ChatContent, { type: "tool-use" }> => c.type === "tool-use")
        : [];
    if (pending.length) {
      this.conversation.append(
        "user",
        pending.map((c) => ({
          type: "tool-result" as const,
          toolUseId: c.id,
          content: { error: "The caller interrupted before this tool's result was received." },
          isError: true,
        })),
      );
    }
  }

  #publishTurn(turn: Turn): void {
    if (turn.published) return;
    turn.published = true;
    this.turns.push(turn);
    this.#speech.release(turn.index);
    const w = turn.waterfall(toEpoch);
    const m = this.#deps.metrics;
    if (w.sttMs !== undefined) m.turnSttMs.observe(w.sttMs);
    if (w.llmFirstTokenMs !== undefined)
      m.turnLlmFirstTokenMs.observe(w.llmFirstTokenMs, { model: [...turn.modelIds][0] ?? "unknown" });
    if (w.ttsFirstByteMs !== undefined) m.turnTtsFirstByteMs.observe(w.ttsFirstByteMs);
    if (w.firstAudioMs !== undefined && turn.index > 0) m.turnFirstAudioMs.observe(w.firstAudioMs);
    if (w.platformOverheadMs !== undefined) m.turnOverheadMs.observe(w.platformOverheadMs);
    m.llmCacheReadTokens.inc(undefined, turn.usage.cacheReadInputTokens);
    m.llmCacheWriteTokens.inc(undefined, turn.usage.cacheWriteInputTokens);
    const generated = turn.generated.join(" ").replace(/\s+/g, " ").trim();
    const assistantText = turn.interrupted
      ? [...(turn.heard ?? new Map<number, string>()).entries()]
          .filter(([r]) => r >= 0)
          .map(([, t]) => t)
          .join(" ")
      : generated;
    this.#publish({
      type: "turn",
      callId: this.callId,
      seq: 0,
      index: turn.index,
      userText: turn.userText,
      assistantText,
      generatedText: generated,
      interrupted: turn.interrupted,
      ...(turn.clearDelayMs !== undefined ? { clearDelayMs: turn.clearDelayMs } : {}),
      thinking: turn.thinking,
      tools: turn.tools,
      modelIds: [...turn.modelIds],
      ...(turn.tier ? { tier: turn.tier } : {}),
      usage: { ...turn.usage },
      waterfall: w,
      at: Date.now(),
    });
  }

  #publish(event: SessionEvent): void {
    try {
      this.#deps.sink.publish({ ...event, seq: this.#seq++ });
    } catch (err) {
      this.#log.error("session event rejected", { type: event.type, error: String(err) });
    }
  }

  /** Runs a provider callback; an exception there ends this call, never the node. */
  #guard(stage: string, fn: () => void): void {
    // Provider events for many calls can arrive in one burst (one socket read, one poll phase): frames
    // due meanwhile leave first.
    this.#deps.clock.runDue();
    try {
      fn();
    } catch (err) {
      this.#deps.metrics.callErrors.inc({ stage });
      this.#log.error("call failed", {
        stage,
        error: String(err),
        stack: err instanceof Error ? err.stack : undefined,
      });
      this.end("internal-error", String(err), CloseCode.internalError, "internal error");
    }
  }
}
