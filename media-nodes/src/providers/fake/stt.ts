// Scripted speech-to-text for unit tests: the test decides what the "vendor" heard and when.
import type { SttEvent, SttOptions, SttProvider, SttSession, TurnThresholds } from "../types.ts";

export class FakeSttSession implements SttSession {
  /** "semantic" when the fake plays a Flux-like recogniser (the test then emits turn-* events). */
  readonly turnDetection: "semantic" | "endpointing";
  /** Every configure() call, in order. */
  readonly configured: Partial<TurnThresholds>[] = [];
  /** Thresholds in force (semantic fakes only). */
  thresholds: TurnThresholds | null;
  /** Every audio chunk received, in order. */
  readonly audio: Uint8Array[] = [];
  audioBytes = 0;
  finalizeCalls = 0;
  closed = false;

  /** Words heard since the last final, as the latest interim said them. */
  private pendingInterim: SttEvent | null = null;

  constructor(
    readonly options: SttOptions,
    private readonly onEvent: (event: SttEvent) => void,
    private readonly autoFinalize = false,
    semantic = false,
  ) {
    this.turnDetection = semantic ? "semantic" : "endpointing";
    this.thresholds = semantic
      ? (options.turn ?? { eagerEotThreshold: null, eotThreshold: 0.7, eotTimeoutMs: 5_000 })
      : null;
  }

  async configure(thresholds: Partial<TurnThresholds>): Promise<TurnThresholds | null> {
    this.configured.push({ ...thresholds });
    if (!this.thresholds) return null;
    this.thresholds = { ...this.thresholds, ...thresholds };
    return this.thresholds;
  }

  sendAudio(audio: Uint8Array): void {
    if (this.closed) return;
    // Copy: callers commonly reuse their frame buffers.
    this.audio.push(audio.slice());
    this.audioBytes += audio.byteLength;
  }

  finalize(): void {
    if (this.closed) return;
    this.finalizeCalls += 1;
    if (!this.autoFinalize) return;
    // Like the vendor: answer with a final of what was heard (possibly nothing), marked fromFinalize.
    const interim = this.pendingInterim;
    queueMicrotask(() =>
      this.emit({
        type: "final",
        text: interim?.type === "interim" ? interim.text : "",
        words: interim?.type === "interim" ? interim.words : [],
        speechFinal: false,
        fromFinalize: true,
        confidence: 0.98,
      }),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Delivers an event as if the vendor sent it. Ignored once closed, like a dead socket. */
  emit(event: SttEvent): void {
    if (this.closed) return;
    if (event.type === "closed") this.closed = true;
    if (event.type === "interim") this.pendingInterim = event;
    if (event.type === "final") this.pendingInterim = null;
    this.onEvent(event);
  }
}

export class FakeStt implements SttProvider {
  readonly name = "fake-stt";
  readonly sessions: FakeSttSession[] = [];

  constructor(
    private readonly opts: {
      failOpen?: boolean;
      /** Answer finalize() with a fromFinalize final of the pending interim, as Deepgram does. Default false. */
      autoFinalize?: boolean;
      /** Play a recogniser with semantic turns (Flux): turnDetection "semantic", configure() keeps thresholds. */
      semantic?: boolean;
    } = {},
  ) {}

  async open(options: SttOptions, onEvent: (event: SttEvent) => void): Promise<SttSession> {
    if (this.opts.failOpen) throw new Error("fake STT: open refused");
    const session = new FakeSttSession(options, onEvent, this.opts.autoFinalize ?? false, this.opts.semantic ?? false);
    this.sessions.push(session);
    return session;
  }

  /** The most recently opened session that is still open. */
  get current(): FakeSttSession | undefined {
    for (let i = this.sessions.length - 1; i >= 0; i--) {
      const s = this.sessions[i];
      if (s && !s.closed) return s;
    }
    return undefined;
  }

  /** Emits on the current session; throws if none is open so a test can't silently drive nothing. */
  emit(event: SttEvent): void {
    const session = this.current;
    if (!session) throw new Error("fake STT: no open session to emit on");
    session.emit(event);
  }

  /** Convenience: the words of a final transcript, spaced 0.3 s apart. */
  static final(
    text: string,
    opts: { speechFinal?: boolean; fromFinalize?: boolean; startSec?: number } = {},
  ): SttEvent {
    return {
      type: "final",
      text,
      words: FakeStt.words(text, opts.startSec ?? 0),
      speechFinal: opts.speechFinal ?? true,
      fromFinalize: opts.fromFinalize ?? false,
      confidence: 0.98,
    };
  }

  static interim(text: string, startSec = 0): SttEvent {
    return { type: "interim", text, words: FakeStt.words(text, startSec) };
  }

  static words(text: string, startSec = 0) {
    return text
      .split(/\s+/)
      .filter((w) => w.length > 0)
      .map((word, i) => ({ word, start: startSec + i * 0.3, end: startSec + i * 0.3 + 0.25, confidence: 0.98 }));
  }
}
