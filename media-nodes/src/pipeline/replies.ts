// The agent's side of the conversation, reply by reply (livekit's agent activity): a caller's turn starts a
// reply, or folds into the one still silent, or supersedes the one still talking; each reply's rounds are
// played onto the agent's audio as they come; a handoff moves the call to another agent between rounds.
import { performance } from "node:perf_hooks";
import type { CallTokenClaims } from "../../../shared/call-token.ts";
import type { Logger } from "../server/logger.ts";
import type { AgentAudio } from "./agent-audio.ts";
import type { History } from "./history.ts";
import type { Interruption } from "./interruption.ts";
import { addUsageEntry, Reply, type SpeculationRecord } from "./reply.ts";
import type { CallAgent, HandoffAction, LlmStreamer, ReplyStep, RoundsContext } from "./reply-rounds.ts";
import type { Telemetry } from "./telemetry.ts";

export interface HandoffTarget extends CallAgent {
  ok: true;
}

export interface RepliesDeps {
  claims: CallTokenClaims;
  agent: CallAgent;
  llm: LlmStreamer;
  history: History;
  audio: AgentAudio;
  telemetry: Telemetry;
  apology: string;
  log: Logger;
  /** Lets due frames leave while a model streams (the node's frame clock). */
  poll(): void;
  /** The call's one interruption path. */
  interrupt(interruption: Interruption): void;
  /**
   * The version a handoff names, resolved and checked like an admitted call's, with its tool runner. Absent: a
   * handoff only records its context packet and the caller stays with the agent.
   */
  handOff?: (claims: CallTokenClaims) => Promise<HandoffTarget | { ok: false; reason: string }>;
  /** The call is with another agent now (its thresholds, its cached lines). */
  onHandedOff(agent: CallAgent): void;
  /** A reply failed in a way that is not the model's: the call ends. */
  onFailed(error: unknown): void;
  /** The agent asked to end the call, and its goodbye has played. */
  onAgentEnded(): void;
}

/** At most this many speculative replies per caller turn (each is a model request the business pays for). */
export const MAX_SPECULATIVE_STARTS = 3;

interface Speculation {
  reply: Reply;
  /** The conversation before the speculation's user message, to compare at commit. */
  historyBefore: string;
  agent: CallAgent;
}

export class Replies {
  readonly #d: RepliesDeps;
  readonly #rounds: RoundsContext;
  #agent: CallAgent;
  #current: Reply | undefined;
  #count = 0;
  #speculation: Speculation | undefined;
  /** The caller turn in progress: its speculative starts and what the aborted ones cost. */
  #turn: SpeculationRecord = newTurnRecord();

  constructor(deps: RepliesDeps) {
    this.#d = deps;
    this.#agent = deps.agent;
    this.#rounds = {
      callId: deps.claims.callId,
      tenantId: deps.claims.tenantId,
      llm: deps.llm,
      history: deps.history,
      agent: () => this.#agent,
      handOff: (action) => this.#handOff(action),
      poll: deps.poll,
      apology: deps.apology,
      log: deps.log,
    };
  }

  get agent(): CallAgent {
    return this.#agent;
  }

  /** The reply in progress, or the last one. */
  get current(): Reply | undefined {
    return this.#current;
  }

  /** Caller turns answered so far. */
  get count(): number {
    return this.#count;
  }

  /** The speculative reply prepared for the turn in progress, if any. */
  get speculation(): Reply | undefined {
    return this.#speculation?.reply;
  }

  /**
   * The caller's turn is probably over (an eager end of turn): start answering `userText` now, silently. Nothing of
   * it plays and no tool runs until `onUserTurn` confirms the same text. Only when the agent is quiet and owes
   * nothing: over a reply still talking, words are a barge-in's business, not a new turn's.
   */
  speculate(userText: string, speechEndAt: number): boolean {
    const text = userText.trim();
    if (!text) return false;
    if (this.#speculation?.reply.userText === text && !this.#speculation.reply.signal.aborted) return true;
    this.dropSpeculation();
    if (this.#turn.starts >= MAX_SPECULATIVE_STARTS) return false;
    const prev = this.#current;
    if (prev && !prev.settled && (prev.owesReply || this.#d.audio.audible(performance.now()))) return false;
    this.#turn.starts += 1;
    const historyBefore = JSON.stringify(this.#d.history.messages);
    const reply = new Reply(this.#count + 1, text, "speculative");
    reply.times.speechEndAt = speechEndAt;
    this.#d.history.beginReply(reply, text);
    this.#speculation = { reply, historyBefore, agent: this.#agent };
    this.#d.telemetry.speculationStarted();
    void this.#run(reply);
    return true;
  }

  /** The caller went on (Flux TurnResumed, or speech again): whatever was prepared is dropped and counted. */
  dropSpeculation(): void {
    const spec = this.#speculation;
    if (!spec) return;
    this.#speculation = undefined;
    const reply = spec.reply;
    reply.drop();
    // Its first clause may be synthesizing: none of it may reach the caller or hold up the next reply.
    this.#d.audio.dropHeld(reply);
    // Its user message and anything the model said: as if it never happened.
    this.#d.history.rewind(reply);
    this.#turn.wasted += 1;
    if (reply.times.llmRequestAt !== undefined) this.#turn.wastedRequests += 1;
    for (const e of reply.llmUsage) addUsageEntry(this.#turn.wastedUsage, { ...e, speculative: true });
    this.#d.telemetry.speculationWasted(reply);
  }

  /** The caller's turn ended: answer it (with the speculative reply, if it answered the same words). */
  onUserTurn(userText: string, speechEndAt: number, sttFinalAt: number): void {
    const spec = this.#speculation;
    if (spec) {
      this.#speculation = undefined;
      const unchanged =
        spec.reply.userText === userText.trim() &&
        !spec.reply.signal.aborted &&
        spec.agent === this.#agent &&
        JSON.stringify(this.#d.history.messages.slice(0, spec.reply.history.length)) === spec.historyBefore;
      if (unchanged) {
        this.#commit(spec.reply, sttFinalAt);
        return;
      }
      this.#speculation = spec;
      this.dropSpeculation();
    }
    let text = userText;
    let folds: number | undefined;
    const prev = this.#current;
    const audio = this.#d.audio;
    if (prev && !prev.settled) {
      const now = performance.now();
      if (!audio.heardAny(prev) && !prev.toolsStarted && prev.index > 0) {
        // The caller went on talking before the agent said anything: one turn, one reply.
        this.#d.interrupt({ reason: "fold", detectedAt: now });
        this.#d.history.rewind(prev);
        text = `${prev.userText} ${userText}`;
        folds = prev.index;
      } else if (prev.owesReply || audio.audible(now)) {
        this.#d.interrupt({ reason: "superseded", detectedAt: now });
      } else {
        prev.settle();
      }
    }
    const reply = new Reply(++this.#count, text);
    reply.folds = folds;
    reply.times.speechEndAt = speechEndAt;
    reply.times.sttFinalAt = sttFinalAt;
    reply.speculation = this.#takeTurnRecord();
    this.#d.history.beginReply(reply, text);
    this.#begin(reply);
    void this.#run(reply);
  }

  /** The turn is confirmed with the speculation's words: it becomes the reply, and what it held plays now. */
  #commit(reply: Reply, sttFinalAt: number): void {
    const prev = this.#current;
    // The previous reply was already quiet (speculation only starts then): it keeps its record.
    if (prev && !prev.settled) prev.settle();
    this.#count += 1;
    reply.times.sttFinalAt = sttFinalAt;
    reply.speculation = this.#takeTurnRecord();
    reply.commit();
    reply.times.committedAt = performance.now();
    this.#begin(reply);
    // The first clause was synthesized while speculative: its audio plays now (or, lost to a clear, is said again).
    if (reply.preSpoken && !this.#d.audio.commitHeld(reply)) this.#play(reply, reply.preSpoken);
    for (const step of reply.held.splice(0)) this.#play(reply, step);
    if (reply.heldDone) this.#finish(reply);
  }

  #takeTurnRecord(): SpeculationRecord {
    const record = this.#turn;
    this.#turn = newTurnRecord();
    return record;
  }

  /** The agent's first message: no model, straight to speech. */
  greet(text: string): void {
    const reply = new Reply(0, "", "speaking");
    this.#d.history.beginReply(reply, "");
    this.#begin(reply);
    reply.generated.push(text);
    this.#d.history.appendAssistant([{ type: "text", text }]);
    this.#d.audio.speak(reply, 0, text, true);
    reply.times.firstClauseAt = performance.now();
    this.#d.audio.endReply(reply);
  }

  /**
   * A resumed call's first turn, numbered `index` (the checkpoint's `nextTurnIndex`; later replies follow it): the
   * bridge line, a line of the platform's own (stored with source `bridge`), not the model's words. `remember`: the
   * model is still told it said it (not when it is about to answer the caller's last words, which must stay the last
   * message). It joins the agent's last message there, so a caller who cuts it short does not take it back out: they
   * heard it begin.
   */
  bridge(index: number, text: string, remember: boolean): Reply {
    this.#count = index;
    const reply = new Reply(index, "", "speaking");
    this.#d.history.beginReply(reply, "");
    this.#begin(reply);
    if (remember) this.#d.history.appendAssistant([{ type: "text", text }]);
    this.#d.audio.playLine(reply, "bridge", text);
    this.#d.audio.endReply(reply);
    return reply;
  }

  /** Agent audio heard the reply to its end. */
  onPlayed(reply: Reply): void {
    if (reply.settled) return;
    reply.played();
    if (reply.endCallAfterPlayback) this.#d.onAgentEnded();
  }

  #begin(reply: Reply): void {
    this.#current = reply;
    this.#d.audio.begin(reply);
    this.#d.telemetry.watch(reply);
    reply.on((event) => {
      if (event.type === "settled") this.#d.audio.release(reply);
    });
  }

  async #run(reply: Reply): Promise<void> {
    try {
      for await (const step of reply.rounds(this.#rounds)) {
        if (reply.signal.aborted) return;
        if (reply.state === "speculative") this.#hold(reply, step);
        else this.#play(reply, step);
      }
      if (reply.signal.aborted) return;
      if (reply.state === "speculative") {
        reply.heldDone = true;
        return;
      }
      this.#finish(reply);
    } catch (err) {
      if (reply.signal.aborted) return;
      if (reply.state === "speculative") {
        // A speculation that failed is dropped; the confirmed turn asks again.
        this.#d.log.warn("speculative reply failed; dropping it", { error: String(err) });
        if (this.#speculation?.reply === reply) this.dropSpeculation();
        return;
      }
      this.#d.onFailed(err);
    }
  }

  /**
   * A step of an unconfirmed reply: kept for the commit, never played. Its first clause, if nothing comes before
   * it, goes to TTS now with its audio held, so the caller hears it the moment the turn is confirmed.
   */
  #hold(reply: Reply, step: ReplyStep): void {
    if (step.type === "clause" && reply.held.length === 0 && !reply.preSpoken) {
      reply.preSpoken = step;
      reply.ttsCharacters += step.text.length;
      this.#d.audio.speakHeld(reply, step.round, step.text);
      return;
    }
    reply.held.push(step);
  }

  #finish(reply: Reply): void {
    reply.finishGenerating();
    this.#d.audio.endReply(reply);
  }

  #play(reply: Reply, step: ReplyStep): void {
    switch (step.type) {
      case "clause":
        reply.ttsCharacters += step.text.length;
        this.#d.audio.speak(reply, step.round, step.text, step.flush);
        return;
      case "line":
        // The acknowledgement once per reply, and only if nothing of it is playing yet.
        if (step.source === "acknowledgement") {
          if (reply.acknowledged || reply.firstByteAt !== undefined) return;
          reply.acknowledged = true;
        }
        this.#d.audio.playLine(reply, step.source, step.text);
        return;
      case "action":
        reply.emit({ type: "action", action: step.action });
        if (step.action.type === "end_call") reply.endCallAfterPlayback = true;
        return;
    }
  }

  /**
   * Hands the call to another agent's published version: its prompt prefix (cache point and all), tools, model
   * policy and barge-in thresholds from the next request on. The call keeps its voice. If the version cannot be
   * had, the first agent is told to carry on.
   */
  async #handOff(action: HandoffAction & { agentVersion: number; prefixHash: string }): Promise<void> {
    const { agentId, agentVersion, prefixHash } = action;
    const target = this.#d.handOff
      ? await this.#d.handOff({ ...this.#d.claims, agentId, agentVersion, prefixHash })
      : { ok: false as const, reason: "handoffs are not available on this node" };
    if (!target.ok) {
      this.#d.log.warn("handoff failed; the agent carries on", { agentId, reason: target.reason });
      this.#d.history.noteHandoffFailed();
      return;
    }
    const from = this.#agent.agent.agentId;
    this.#agent = { agent: target.agent, prefix: target.prefix, toolRunner: target.toolRunner };
    this.#d.onHandedOff(this.#agent);
    this.#d.history.noteHandoff(action.context);
    this.#d.log.info("call handed to another agent", { from, to: agentId, version: agentVersion });
  }
}

function newTurnRecord(): SpeculationRecord {
  return { starts: 0, wasted: 0, wastedRequests: 0, wastedUsage: [] };
}
