// One live call: its life cycle (start, end, the error guard, call.started and call.ended) and the wiring of
// the parts that do the work. Frames flow one way, interruptions flow back:
//
//   codec → CallerAudio (buffer, VAD, STT) → UserTurns → Reply (LLM, tools, chunker) → AgentAudio (TTS, pacer, marks) → codec
//                                               ▲                                                         │
//                                               └──── interrupt(): clear, reply interrupt, history trim ◄─┘
//
// Supervision watches for silence on the pacer's tick; Telemetry follows each reply's events; TurnFlow carries
// the events between the parts. Everything a call does runs inside this object, and its errors end this call only.
import { performance } from "node:perf_hooks";
import type { AgentRuntimeConfig } from "../../../shared/agent-config.ts";
import type { CallCheckpoint } from "../../../shared/call-checkpoint.ts";
import type { CallTokenClaims } from "../../../shared/call-token.ts";
import type { PromptPrefix } from "../../../shared/prompt-prefix.ts";
import type { CallEndReason, Transport } from "../../../shared/session-events.ts";
import type { MediaMetrics } from "../metrics/media-metrics.ts";
import type { SttRecoveryOptions } from "../providers/fallback.ts";
import type { SttProvider, TtsProvider } from "../providers/types.ts";
import { CloseCode } from "../server/close-codes.ts";
import type { Logger } from "../server/logger.ts";
import type { SessionSink } from "../session-sink/types.ts";
import { extractEntities } from "../tools/entities.ts";
import { AgentAudio, type CallLink } from "./agent-audio.ts";
import type { AudioCache } from "./audio-cache.ts";
import { BargeInPause } from "./barge-in-pause.ts";
import { openCallProviders, STT_PROMPT_WINDOW_MS } from "./call-providers.ts";
import { CallerAudio, type PreStartBuffer } from "./caller-audio.ts";
import type { FrameClock } from "./frame-clock.ts";
import { History } from "./history.ts";
import { type HandoffTarget, Replies } from "./replies.ts";
import type { Reply } from "./reply.ts";
import type { LlmStreamer, ToolRunnerPort } from "./reply-rounds.ts";
import { hasConversation, RESUME_BRIDGE_LINE, resumeCall } from "./resume.ts";
import { Supervision } from "./supervision.ts";
import { type CarrierIds, Telemetry } from "./telemetry.ts";
import { TurnFlow } from "./turn-flow.ts";
import { UserTurns } from "./user-turns.ts";

export type { CallLink } from "./agent-audio.ts";
export type { HandoffTarget } from "./replies.ts";
export type { LlmStreamer, ToolRunnerPort } from "./reply-rounds.ts";
export { RESUME_BRIDGE_LINE } from "./resume.ts";

export interface CallDeps {
  stt: SttProvider;
  llm: LlmStreamer;
  /** Already wrapped with the agent's fallback voice. */
  tts: TtsProvider;
  toolRunner: ToolRunnerPort;
  sink: SessionSink;
  metrics: MediaMetrics;
  clock: Pick<FrameClock, "add" | "remove" | "runDue">;
  audioCache: AudioCache;
  logger: Logger;
  nodeId: string;
  deadAirMs: number;
  /** `bridge`: what a resumed call says first (default RESUME_BRIDGE_LINE). */
  lines: { filler: string; apology: string; drainGoodbye: string; bridge?: string };
  sttRecovery?: Omit<SttRecoveryOptions, "onRecover">;
  /**
   * The version a handoff names, resolved and checked like an admitted call's, with its tool runner. Absent: a
   * handoff only records its context packet and the caller stays with the agent.
   */
  handOff?: (claims: CallTokenClaims) => Promise<HandoffTarget | { ok: false; reason: string }>;
  onEnded?: (call: Call) => void;
}

export interface CallInit {
  claims: CallTokenClaims;
  agent: AgentRuntimeConfig;
  prefix: PromptPrefix;
  transport: Transport;
  link: CallLink;
  carrier: CarrierIds;
  /** The call was moved here from a lost node: continue its conversation (admission claimed the checkpoint). */
  resume?: CallCheckpoint;
  /** Caller audio that arrived while the call was being admitted (the same buffer goes on filling). */
  preStart?: PreStartBuffer;
}

/**
 * After the agent hangs up, how long the socket stays open for `call.ended` to reach the edge: when the stream
 * closes, the carrier asks the edge what next, and the edge waits only 1 s for that event before it takes the call
 * as lost and moves it to another node.
 */
const END_FLUSH_MS = 800;

export class Call {
  readonly callId: string;
  readonly startedAt = performance.now();
  readonly callerAudio: CallerAudio;
  readonly userTurns: UserTurns;
  readonly agentAudio: AgentAudio;
  /** The first step of a barge-in: speech onset pauses the agent; the words decide (barge-in-pause.ts). */
  readonly bargeInPause: BargeInPause;
  readonly history = new History();
  readonly supervision: Supervision;
  readonly telemetry: Telemetry;
  readonly replies: Replies;
  readonly #init: CallInit;
  readonly #deps: CallDeps;
  readonly #log: Logger;
  #ended = false;
  #started = false;
  #drainWaiter: (() => void) | undefined;
  readonly #flow: TurnFlow;

  constructor(init: CallInit, deps: CallDeps) {
    this.#init = init;
    this.#deps = deps;
    this.callId = init.claims.callId;
    this.#log = deps.logger.child({ callId: this.callId });
    this.telemetry = new Telemetry({
      callId: this.callId,
      sink: deps.sink,
      metrics: deps.metrics,
      log: this.#log,
      notify: (notice) => init.link.sendNotice(notice),
      entities: () => extractEntities([...this.history.messages]),
    });
    this.callerAudio = new CallerAudio({
      promptWindowMs: STT_PROMPT_WINDOW_MS,
      onFrame: (now, speaking) => {
        this.#flow.onCallerFrame(now, this.callerAudio.vad.lastVoicedAt === now, speaking);
        this.userTurns.onFrame(now, speaking);
      },
      ...(init.preStart ? { preStart: init.preStart } : {}),
    });
    const vad = this.callerAudio.vad;
    this.agentAudio = new AgentAudio({
      link: init.link,
      metrics: deps.metrics,
      audioCache: deps.audioCache,
      clock: deps.clock,
      // The call keeps the voice it started with: the TTS session and the cached lines are in it.
      voice: init.agent.voice,
      onFrame: (frame, now) => vad.noteOutbound(frame, now),
      onTick: (now) => {
        this.bargeInPause.tick(now);
        this.userTurns.tick(now);
        this.supervision.tick(now);
      },
      onPlayed: (reply) => this.replies.onPlayed(reply),
      onGoodbyePlayed: () => this.#drainWaiter?.(),
      onHeard: (index, text, mark) => this.telemetry.agentHeard(index, text, mark),
      onSlowConsumer: () =>
        this.end(
          "slow-consumer",
          "peer did not read its audio",
          CloseCode.slowConsumer,
          "slow consumer: audio not read",
        ),
    });
    this.bargeInPause = new BargeInPause(
      this.agentAudio,
      init.agent.bargeIn,
      (record) => this.#flow.onPauseDecided(record),
      () => this.userTurns.wordsOverAgent(),
    );
    this.userTurns = new UserTurns(
      init.agent.bargeIn,
      {
        agentAudible: (now) => this.agentAudio.audible(now),
        agentSentence: () => this.agentAudio.recentText(),
        vadSpeechMs: (now) => vad.speechMs(now),
        lastVoicedAt: () => vad.lastVoicedAt,
        session: () => this.callerAudio.stt,
      },
      (event) => this.#flow.onUserTurn(event),
      { turnTaking: init.agent.turnTaking, language: init.agent.language },
    );
    this.supervision = new Supervision(
      {
        reply: () => this.replies.current,
        queuedBytes: () => this.agentAudio.pacer.queuedBytes,
        lastFrameAt: () => this.agentAudio.pacer.lastFrameAt,
        agentAudible: (now) => this.agentAudio.audible(now),
        callerSpeaking: () => vad.speaking,
      },
      {
        deadAirMs: deps.deadAirMs,
        playFiller: (reply, why) => {
          this.#log.info(why === "dead-air" ? "dead air; playing filler" : "recognizer stalled; playing filler", {
            turn: reply?.index,
          });
          if (reply) this.agentAudio.playLine(reply, "filler", deps.lines.filler);
          else if (this.agentAudio.playLoose("filler", deps.lines.filler)) {
            this.telemetry.fillerWithoutReply();
            // Heard before any reply exists (a stalled recognizer mid-turn): stored with the reply that follows.
            this.#flow.holdLooseLine({ source: "filler", text: deps.lines.filler });
          }
        },
      },
    );
    this.replies = new Replies({
      claims: init.claims,
      agent: { agent: init.agent, prefix: init.prefix, toolRunner: deps.toolRunner },
      llm: deps.llm,
      history: this.history,
      audio: this.agentAudio,
      telemetry: this.telemetry,
      apology: deps.lines.apology,
      log: this.#log,
      poll: () => deps.clock.runDue(),
      interrupt: (interruption) => this.#flow.interrupt(interruption),
      ...(deps.handOff ? { handOff: deps.handOff } : {}),
      onHandedOff: (agent) => {
        this.userTurns.setPolicy(agent.agent.bargeIn);
        this.bargeInPause.setOptions(agent.agent.bargeIn);
        this.userTurns.setTurnSettings({ turnTaking: agent.agent.turnTaking, language: agent.agent.language });
        this.#warmLines();
      },
      onFailed: (err) => {
        if (this.#ended) return;
        deps.metrics.callErrors.inc({ stage: "turn" });
        this.#log.error("turn failed", { error: String(err), stack: err instanceof Error ? err.stack : undefined });
        this.end("internal-error", String(err), CloseCode.internalError, "internal error");
      },
      onAgentEnded: () => this.end("agent-ended", "the agent ended the call", CloseCode.normal, "call ended by agent"),
    });
    this.#flow = new TurnFlow({
      userTurns: this.userTurns,
      bargeInPause: this.bargeInPause,
      replies: this.replies,
      agentAudio: this.agentAudio,
      history: this.history,
      telemetry: this.telemetry,
      vad,
      ended: () => this.#ended,
      onSttLost: (reason) =>
        this.end(
          "provider-failure",
          `speech recognition lost: ${reason}`,
          CloseCode.unavailable,
          "speech recognition unavailable",
        ),
    });
  }

  get agent(): AgentRuntimeConfig {
    return this.replies.agent.agent;
  }

  get ended(): boolean {
    return this.#ended;
  }

  get turnCount(): number {
    return this.replies.count;
  }

  /** The pacer that sends this call's frames (the node's clock reports a failing one by it). */
  get pacer() {
    return this.agentAudio.pacer;
  }

  /** The reply in progress or last played. */
  get reply(): Reply | undefined {
    return this.replies.current;
  }

  // ── life cycle ────────────────────────────────────────────────────────────────────────────────

  /** Opens the providers and greets the caller. Admission already happened: this is the first cost. */
  async start(): Promise<void> {
    const { agent, claims } = this.#init;
    this.telemetry.callStarted(claims, this.#deps.nodeId, this.#init.transport, this.#init.carrier);
    this.#warmLines();
    try {
      const [sttSession, tts] = await openCallProviders(
        this.#deps,
        { callId: this.callId, agent },
        {
          onStt: (e) => this.#guard("stt", () => this.#flow.onStt(e)),
          onTts: (e) => this.#guard("tts", () => this.agentAudio.onTtsEvent(e)),
          onRecover: ({ cause, reason }) => {
            this.#log.warn("speech recognition reopened; replaying the caller's unconfirmed audio", { cause, reason });
            this.#deps.metrics.sttRecoveries.inc({ cause });
            if (cause === "stall") this.supervision.noteSttStall();
          },
        },
      );
      if (this.#ended) {
        await Promise.allSettled([sttSession.close(), tts.close()]);
        return;
      }
      this.agentAudio.attach(tts);
      this.#started = true;
      this.callerAudio.start(sttSession);
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
    this.#init.link.sendNotice({ type: "ready", callId: this.callId, sampleRate: 16_000 });
    const resume = this.#init.resume;
    if (hasConversation(resume)) {
      resumeCall(resume, {
        history: this.history,
        replies: this.replies,
        log: this.#log,
        bridgeLine: this.#bridgeLine,
        ended: () => this.#ended,
      });
    } else if (agent.firstMessage) this.replies.greet(agent.firstMessage);
  }

  get #bridgeLine(): string {
    return this.#deps.lines.bridge ?? RESUME_BRIDGE_LINE;
  }

  #warmLines(): void {
    const lines = this.#deps.lines;
    const voice = this.#init.agent.voice;
    const texts = [this.replies.agent.agent.acknowledgement, lines.filler, lines.apology, lines.drainGoodbye];
    if (this.#init.resume) texts.push(this.#bridgeLine);
    for (const text of texts) {
      void this.#deps.audioCache.warm(this.#deps.tts, voice, text);
    }
  }

  /** Ends the call once: stops the providers, publishes what is left, closes the socket. Safe to call again. */
  end(reason: CallEndReason, detail?: string, code: number = CloseCode.normal, closeText = "call ended"): void {
    if (this.#ended) return;
    this.#ended = true;
    this.replies.current?.close();
    const tts = this.agentAudio.close();
    const stt = this.callerAudio.close();
    void stt?.close().catch(() => {});
    void tts?.close().catch(() => {});
    this.telemetry.callEnded(reason, detail, performance.now() - this.startedAt, this.replies.count);
    this.#log.info("call ended", { reason, detail });
    const link = this.#init.link;
    const close = () => {
      if (link.closed) return;
      link.sendNotice({ type: "end", reason: closeText });
      link.end(code, closeText);
    };
    // The agent hung up: the carrier asks the edge what next as soon as the stream closes, and a call.ended not yet
    // stored there would make the call look lost (and be moved to another node).
    if (reason === "agent-ended" && !link.closed) void this.telemetry.flush(END_FLUSH_MS).then(close);
    else close();
    this.#drainWaiter?.();
    this.#deps.onEnded?.(this);
  }

  /** Drain deadline: stop whatever is being said, say goodbye, and end once it has played. */
  async endWithGoodbye(maxWaitMs = 8_000): Promise<void> {
    if (this.#ended) return;
    this.#flow.interrupt({ reason: "drain", detectedAt: performance.now() });
    const playMs = this.#started ? this.agentAudio.playGoodbye(this.#deps.lines.drainGoodbye) : undefined;
    if (playMs !== undefined) {
      const done = new Promise<void>((resolve) => {
        this.#drainWaiter = resolve;
      });
      await Promise.race([done, new Promise((r) => setTimeout(r, Math.min(maxWaitMs, playMs + 500)))]);
    }
    this.end("drain-deadline", "node shutting down", CloseCode.goingAway, "media node shutting down");
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

  // ── from the socket ───────────────────────────────────────────────────────────────────────────

  onAudio(frame: Uint8Array): void {
    if (this.#ended) return;
    this.callerAudio.push(frame, performance.now());
  }

  onMark(name: string): void {
    if (this.#ended) return;
    this.agentAudio.onMark(name);
  }

  onDtmf(digit: string): void {
    this.#log.debug("dtmf", { digit });
  }
}
