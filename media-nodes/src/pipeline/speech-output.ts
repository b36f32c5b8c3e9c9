// The agent's voice for one call: clauses go to the TTS session, its audio goes to the pacer, and each
// clause gets a mark at its end so the carrier proves when the caller heard it.
//
// Deepgram caps Flush at 20 a minute, so not every clause can be flushed on its own. Clauses flushed
// together form a segment; its audio arrives in order, and when the segment's Flushed event arrives its
// length is known and the clause boundaries inside it are placed in proportion to their characters.
// The first clause of a turn is always flushed at once (that is where latency lives).
//
// A speculative reply's first clause is synthesized before the turn is confirmed, but held: its segment's audio is
// kept here, not queued on the pacer, until `releaseHeld` (the turn was confirmed: it plays at once) or `dropHeld`
// (the caller went on: it is discarded, and TTS is cleared so none of it reaches the next reply on the one socket).
import type { TtsEvent, TtsSession } from "../providers/types.ts";
import type { OutboundPacer } from "./pacer.ts";

export interface Clause {
  /** The mark name; unique within the call. */
  readonly id: string;
  readonly turn: number;
  readonly round: number;
  readonly text: string;
  readonly segment: Segment;
  /** Characters of the segment before and including this clause. */
  readonly charStart: number;
  readonly charEnd: number;
  echoed: boolean;
  echoedAt?: number;
}

export interface Segment {
  readonly turn: number;
  readonly clauses: Clause[];
  chars: number;
  firstByte: number | undefined;
  bytes: number;
  done: boolean;
  /** Audio of an unconfirmed (speculative) segment, kept off the pacer until it is released. */
  held?: Uint8Array[] | undefined;
  /** A dropped speculation's segment: whatever TTS still sends for it is thrown away. */
  discarded?: boolean;
}

export type AudioSource = "speech" | "acknowledgement" | "filler" | "apology" | "goodbye" | "bridge";

export interface SpeechOutputHooks {
  /** Audio of `source` was queued for the caller at absolute byte `at`. */
  onEnqueue(turn: number, source: AudioSource, at: number): void;
  onTtsFirstByte(turn: number): void;
  /** Every segment of the turn so far is synthesized and marked; `endMark` follows its last byte. */
  onTurnAudioComplete(turn: number, endMark: string): void;
  /** A clause's mark was placed after its audio: the caller will have heard it when the carrier echoes the mark. */
  onClauseMarked?(clause: Clause): void;
}

/** Flush budget: Deepgram allows 20 a minute; keep 2 in reserve for ends of turns. */
const FLUSH_CAPACITY = 18;
const FLUSH_REFILL_MS = 60_000 / 20;

/** Typical μ-law bytes per character of English speech (~15 characters a second at 8000 bytes a second). */
const DEFAULT_BYTES_PER_CHAR = 530;

export class SpeechOutput {
  tts: TtsSession | undefined;
  #open: Segment | undefined;
  #pending: Segment[] = [];
  #discardUntil = 0;
  #tokens = FLUSH_CAPACITY;
  #tokensAt = 0;
  #clauseSeq = 0;
  #bytesPerChar = DEFAULT_BYTES_PER_CHAR;
  /** Turn whose input ended (no more clauses) but whose last segment is still synthesizing. */
  #closingTurn: number | undefined;
  /** Canned lines waiting for the speech before them to be synthesized (see playCanned). */
  #deferred: { turn: number; source: AudioSource; audio: Uint8Array; markName: string }[] = [];
  /** Clauses by mark name, for the turn(s) still playing. */
  readonly clauses = new Map<string, Clause>();
  /** Segments of a speculative reply, held until it is confirmed or dropped. */
  #held: Segment[] = [];

  constructor(
    private readonly pacer: OutboundPacer,
    private readonly hooks: SpeechOutputHooks,
    private readonly now: () => number,
  ) {}

  /** True while TTS still owes audio bound for the pacer (held and discarded segments are not). */
  get synthesizing(): boolean {
    if (this.#open && !this.#open.held && !this.#open.discarded) return true;
    for (const seg of this.#pending) if (!seg.held && !seg.discarded) return true;
    return false;
  }

  /**
   * A speculative reply's first clause: synthesized now (flushed at once), its audio held until `releaseHeld`.
   * Anything still open goes to TTS first, so the held segment holds this clause only.
   */
  speakHeld(turn: number, round: number, text: string): Clause | undefined {
    if (!this.tts) return undefined;
    if (this.#open) this.#flush();
    const seg: Segment = { turn, clauses: [], chars: 0, firstByte: undefined, bytes: 0, done: false, held: [] };
    this.#open = seg;
    this.#held.push(seg);
    return this.speak(turn, round, text, true);
  }

  /**
   * The turn was confirmed: `turn`'s held audio goes to the pacer now, and what TTS still sends for it follows
   * directly. False if there was none to release (an interruption cleared it meanwhile): it must be said again.
   */
  releaseHeld(turn: number): boolean {
    const segs = this.#held.filter((s) => s.turn === turn && !s.discarded);
    this.#held = this.#held.filter((s) => s.turn !== turn);
    for (const seg of segs) {
      const audio = seg.held ?? [];
      seg.held = undefined;
      if (audio.length > 0) {
        const at = this.pacer.writtenBytes;
        for (const chunk of audio) this.pacer.enqueue(chunk);
        seg.firstByte = at;
        this.hooks.onEnqueue(seg.turn, "speech", at);
      }
      // Its Flushed came while it was held: its marks are placed now that its bytes have a position.
      if (seg.done) this.#place(seg);
    }
    return segs.length > 0;
  }

  /**
   * The speculation was dropped: `turn`'s held audio is discarded. If TTS still owes audio for it and for nothing
   * else, TTS is cleared (the next reply must not queue behind a clause nobody will hear); otherwise what comes for
   * it is thrown away as it arrives.
   */
  dropHeld(turn: number): void {
    const segs = this.#held.filter((s) => s.turn === turn);
    if (segs.length === 0) return;
    this.#held = this.#held.filter((s) => s.turn !== turn);
    for (const seg of segs) {
      seg.discarded = true;
      seg.held = undefined;
      for (const c of seg.clauses) this.clauses.delete(c.id);
    }
    const outstanding = this.#open ? [...this.#pending, this.#open] : this.#pending;
    if (outstanding.length === 0 || !outstanding.every((s) => s.discarded)) return;
    this.#open = undefined;
    this.#pending = [];
    if (this.tts) {
      this.tts.clear();
      this.#discardUntil = this.now() + 1_000;
    }
  }

  speak(turn: number, round: number, text: string, first: boolean): Clause | undefined {
    const tts = this.tts;
    if (!tts) return undefined;
    const seg = this.#open ?? { turn, clauses: [], chars: 0, firstByte: undefined, bytes: 0, done: false };
    this.#open = seg;
    const clause: Clause = {
      id: `t${turn}c${++this.#clauseSeq}`,
      turn,
      round,
      text,
      segment: seg,
      charStart: seg.chars,
      charEnd: seg.chars + text.length,
      echoed: false,
    };
    seg.chars += text.length;
    seg.clauses.push(clause);
    this.clauses.set(clause.id, clause);
    tts.speak(text);
    if (first || this.#takeFlushToken(false)) this.#flush();
    return clause;
  }

  /** No more clauses for this turn: flush what is open; the end mark follows once all audio is in. */
  endTurn(turn: number): void {
    this.#closingTurn = turn;
    if (this.#open) {
      this.#takeFlushToken(true);
      this.#flush();
    } else if (!this.synthesizing) {
      this.#finishTurn();
    }
  }

  /** Pre-synthesized audio, queued after whatever is already queued. */
  playCanned(turn: number, source: AudioSource, audio: Uint8Array, markName: string): void {
    // An acknowledgement or a filler fills a silence, so it plays at once. An apology answers a failure after the
    // model's first words: it follows those words, not cuts in ahead of (or between) their synthesized audio.
    if (source === "apology" && this.synthesizing) {
      this.#deferred.push({ turn, source, audio, markName });
      return;
    }
    this.#enqueueCanned(turn, source, audio, markName);
  }

  #enqueueCanned(turn: number, source: AudioSource, audio: Uint8Array, markName: string): void {
    const at = this.pacer.writtenBytes;
    this.pacer.enqueue(audio);
    this.pacer.mark(markName);
    if (!this.synthesizing) this.pacer.endOfInput();
    this.hooks.onEnqueue(turn, source, at);
  }

  /** Barge-in: TTS drops what it has; late audio from before the clear is ignored. */
  interrupt(): void {
    // A held speculation loses its audio too: releaseHeld says so, and its clause is said again.
    for (const seg of this.#held) seg.discarded = true;
    this.#held = [];
    this.#open = undefined;
    this.#pending = [];
    this.#closingTurn = undefined;
    this.#deferred = [];
    this.clauses.clear();
    if (this.tts) {
      this.tts.clear();
      // Until Cleared arrives, audio on the wire is from before the clear. Bounded, in case it never does.
      this.#discardUntil = this.now() + 1_000;
    }
  }

  onTtsEvent(event: TtsEvent): void {
    switch (event.type) {
      case "audio": {
        if (this.now() < this.#discardUntil) return;
        const seg = this.#pending[0] ?? this.#open;
        if (!seg || seg.discarded) return; // audio nobody asked for (after an interruption or a drop)
        if (seg.held) {
          seg.held.push(event.audio);
          seg.bytes += event.audio.length;
          if (seg.bytes === event.audio.length) this.hooks.onTtsFirstByte(seg.turn);
          return;
        }
        const at = this.pacer.writtenBytes;
        this.pacer.enqueue(event.audio);
        seg.bytes += event.audio.length;
        if (seg.firstByte === undefined) {
          seg.firstByte = at;
          this.hooks.onTtsFirstByte(seg.turn);
          this.hooks.onEnqueue(seg.turn, "speech", at);
        }
        return;
      }
      case "flushed": {
        const seg = this.#pending.shift();
        if (!seg) return;
        if (seg.held) seg.done = true;
        else if (!seg.discarded) this.#place(seg);
        // A held or discarded segment still synthesizing does not keep this turn's end (or a line) waiting.
        if (!this.synthesizing) {
          this.#playDeferred();
          if (this.#closingTurn !== undefined) this.#finishTurn();
        }
        return;
      }
      case "cleared":
        this.#discardUntil = 0;
        return;
      case "closed":
        // ttsWithFallback already tried every voice: this session cannot speak again.
        this.tts = undefined;
        for (const seg of this.#held) seg.discarded = true;
        this.#held = [];
        this.#open = undefined;
        this.#pending = [];
        // Pre-synthesized: it needs no TTS session.
        this.#playDeferred();
        // The audio it owed will never come: the turn ends with what was heard, rather than waiting forever.
        if (this.#closingTurn !== undefined) this.#finishTurn();
        return;
    }
  }

  onMarkEchoed(name: string): Clause | undefined {
    const clause = this.clauses.get(name);
    if (clause) {
      clause.echoed = true;
      clause.echoedAt = this.now();
    }
    return clause;
  }

  /**
   * What the caller may be hearing now, for echo filtering: clauses played within the last few seconds
   * (an echo reaches the recognizer, and its transcript reaches us, well after it played), the one in
   * flight and the next.
   */
  recentText(windowMs = 3_000): string {
    const now = this.now();
    const out: string[] = [];
    let upcoming = 0;
    for (const clause of this.clauses.values()) {
      if (clause.echoedAt !== undefined) {
        if (now - clause.echoedAt <= windowMs) out.push(clause.text);
      } else {
        out.push(clause.text);
        if (++upcoming >= 2) break;
      }
    }
    return out.join(" ");
  }

  /**
   * What the caller heard of `turn`, per round: clauses whose marks came back in full; the clause in
   * flight cut in proportion to how much of its audio has been played, at word granularity.
   */
  heardByRound(turn: number): Map<number, string> {
    const out = new Map<number, string>();
    const add = (round: number, text: string) => {
      if (!text) return;
      const prev = out.get(round);
      out.set(round, prev ? `${prev}${prev.endsWith(" ") ? "" : " "}${text}` : text);
    };
    let inFlightDone = false;
    for (const clause of this.clauses.values()) {
      if (clause.turn !== turn) continue;
      if (clause.echoed) {
        add(clause.round, clause.text);
        continue;
      }
      if (inFlightDone) break;
      inFlightDone = true;
      const { start, end } = this.#bounds(clause);
      if (start === undefined || end === undefined || end <= start) continue;
      // Paced in real time, sent bytes are played bytes (less a frame in flight).
      const played = Math.max(0, this.pacer.sentBytes - 160 - start);
      const fraction = Math.min(1, played / (end - start));
      const words = clause.text.trim().split(/\s+/);
      const n = Math.floor(words.length * fraction);
      if (n > 0) add(clause.round, words.slice(0, n).join(" "));
    }
    return out;
  }

  /** Forget clauses of a finished turn. */
  release(turn: number): void {
    for (const [id, clause] of this.clauses) if (clause.turn === turn) this.clauses.delete(id);
  }

  #bounds(clause: Clause): { start: number | undefined; end: number | undefined } {
    const seg = clause.segment;
    if (seg.firstByte === undefined) return { start: undefined, end: undefined };
    const total = seg.done ? seg.bytes : Math.max(seg.bytes, seg.chars * this.#bytesPerChar);
    return {
      start: seg.firstByte + Math.round((total * clause.charStart) / Math.max(1, seg.chars)),
      end: seg.firstByte + Math.round((total * clause.charEnd) / Math.max(1, seg.chars)),
    };
  }

  #place(seg: Segment): void {
    seg.done = true;
    if (seg.bytes > 0 && seg.chars > 0) this.#bytesPerChar = 0.8 * this.#bytesPerChar + (0.2 * seg.bytes) / seg.chars;
    if (seg.firstByte === undefined) seg.firstByte = this.pacer.writtenBytes;
    for (const clause of seg.clauses) {
      const { end } = this.#bounds(clause);
      this.pacer.mark(clause.id, end);
      this.hooks.onClauseMarked?.(clause);
    }
    if (!this.synthesizing) this.pacer.endOfInput();
  }

  #playDeferred(): void {
    const lines = this.#deferred;
    this.#deferred = [];
    for (const l of lines) this.#enqueueCanned(l.turn, l.source, l.audio, l.markName);
  }

  #finishTurn(): void {
    const turn = this.#closingTurn;
    if (turn === undefined) return;
    this.#closingTurn = undefined;
    const endMark = `t${turn}end`;
    this.pacer.mark(endMark);
    this.pacer.endOfInput();
    this.hooks.onTurnAudioComplete(turn, endMark);
  }

  #flush(): void {
    const seg = this.#open;
    if (!seg || !this.tts) return;
    this.#open = undefined;
    this.#pending.push(seg);
    this.tts.flush();
  }

  #takeFlushToken(force: boolean): boolean {
    const now = this.now();
    if (this.#tokensAt === 0) this.#tokensAt = now;
    this.#tokens = Math.min(FLUSH_CAPACITY, this.#tokens + (now - this.#tokensAt) / FLUSH_REFILL_MS);
    this.#tokensAt = now;
    // Optional (per-clause) flushes leave a reserve so ends of turns are never over the limit.
    if (this.#tokens >= (force ? 1 : 3) || force) {
      this.#tokens -= 1;
      return true;
    }
    return false;
  }
}
