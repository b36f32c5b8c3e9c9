// What the Nova-3 and Flux sessions share: a live-transcription socket that survives a drop. The SDK's own
// reconnect is off: it would reopen the socket but not resend the audio the dead socket had not yet turned into
// results, so the caller's words in flight would be lost. This keeps every byte since the last result (AudioLog),
// reopens with backoff, resends it, and shifts the new connection's times so the pipeline sees one stream. The
// subclass says how to open its socket, what its messages mean, how it keeps an idle socket alive and how it asks
// for a final; this class owns the socket's life and the audio kept for resending (the call's one such buffer:
// the STT recovery decorator reads it through `heldAudio()` rather than keeping a copy of its own).

import { AudioLog } from "../audio-log.ts";
import type { SttEvent, SttOptions, SttSession, TurnThresholds } from "../types.ts";
import { describeError, handshake, isFatalClose, isFatalHandshake } from "./client.ts";

export interface ResendingOptions {
  /** Reopen attempts after an unexpected close, with exponential backoff. */
  reconnect: { attempts: number; backoffMs: number };
  /** Handshake timeout. */
  connectTimeoutMs: number;
  /** Cap on audio kept for resending, in milliseconds of audio. */
  maxBufferMs: number;
  /** After this long without sending, the subclass's keep-alive goes out. */
  keepAliveMs: number;
}

/** The SDK sockets' common surface (listen.v1 and listen.v2). */
export interface VendorSocket {
  readonly readyState: number;
  on(event: "message", cb: (message: unknown) => void): void;
  on(event: "close", cb: (event: { code: number; reason?: string }) => void): void;
  on(event: "error", cb: (error: Error) => void): void;
  connect(): unknown;
  waitForOpen(): Promise<unknown>;
  close(): void;
  sendMedia(audio: Uint8Array): void;
  sendCloseStream(message: { type: "CloseStream" }): void;
}

/** After CloseStream, how long to wait for the server to close before closing ourselves. */
const CLOSE_GRACE_MS = 1_000;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export abstract class ResendingSession<S extends VendorSocket> implements SttSession {
  abstract readonly turnDetection: SttSession["turnDetection"];
  protected socket: S | null = null;
  protected state: "connecting" | "open" | "closing" | "closed" = "connecting";
  /** Audio not yet covered by a result. */
  protected readonly log: AudioLog;
  /** Absolute byte offset up to which results have covered the audio (nothing before it is resent). */
  protected settledBytes = 0;
  /** Absolute byte offset at which the current connection's audio (its time zero) begins. */
  protected connectionStartBytes = 0;
  /** finalize() was asked and its answer has not come: a new socket is asked again. */
  protected finalizePending = false;
  protected readonly bytesPerSecond: number;
  #lastConnectError = "";
  #lastSendAt = Date.now();
  #keepAlive: ReturnType<typeof setInterval> | null = null;
  readonly #maxBufferBytes: number;

  constructor(
    protected readonly options: SttOptions,
    protected readonly onEvent: (event: SttEvent) => void,
    protected readonly cfg: ResendingOptions,
    /** Names the vendor in errors ("Deepgram STT", "Deepgram Flux"). */
    private readonly label: string,
  ) {
    this.bytesPerSecond = options.sampleRate * (options.encoding === "linear16" ? 2 : 1);
    this.#maxBufferBytes = Math.round((cfg.maxBufferMs / 1000) * this.bytesPerSecond);
    // Half-second blocks: an idle call holds about a second of silence (releaseHeld), in three of them.
    this.log = new AudioLog(this.bytesPerSecond / 2);
  }

  /** Opens the SDK socket (not yet connected). */
  protected abstract openSocket(): Promise<S>;
  protected abstract onMessage(socket: S, message: { type: string } & Record<string, unknown>): void;
  /** The socket has been idle `keepAliveMs`. */
  protected abstract keepAlive(socket: S): void;
  /** Asks the vendor for a final now (a new socket is asked again while `finalizePending`). */
  protected abstract sendFinalize(socket: S): void;
  /** A socket is open and about to be given the kept audio. */
  protected onAttached(_socket: S): void {}
  /** The socket dropped and a reconnect begins. */
  protected onLost(): void {}
  /** The session ends (closed by us, or given up). */
  protected onEnding(_error: Error): void {}

  abstract configure(thresholds: Partial<TurnThresholds>): Promise<TurnThresholds | null>;

  async start(): Promise<void> {
    // Opening is one try plus the reconnect attempts: a blip at call start deserves the same patience.
    const socket = await this.#connectWithRetry(1 + this.cfg.reconnect.attempts);
    if (!socket) throw new Error(`${this.label}: could not open a session: ${this.#lastConnectError}`);
    this.#attach(socket);
    this.#keepAlive = setInterval(() => this.#keepAliveIfIdle(), Math.max(50, this.cfg.keepAliveMs / 2));
    this.#keepAlive.unref?.();
  }

  sendAudio(audio: Uint8Array): void {
    // A zero-length binary frame means "close stream" to Deepgram.
    if (audio.byteLength === 0 || this.state === "closing" || this.state === "closed") return;
    const data = this.log.append(audio);
    this.#capBuffer();
    const socket = this.socket;
    if (this.state !== "open" || !socket) return;
    // No closure per frame: this runs 50 times a second per call.
    try {
      socket.sendMedia(data);
      this.#lastSendAt = Date.now();
    } catch {
      // The socket died between our state check and the send; its close handler reconnects and resends from the
      // log, which already holds this audio.
    }
  }

  finalize(): void {
    if (this.state === "closing" || this.state === "closed") return;
    this.finalizePending = true;
    const socket = this.socket;
    if (this.state === "open" && socket) this.trySend(() => this.sendFinalize(socket));
  }

  /** The audio kept for a resend (not yet covered by a result), oldest first, as views valid until the next send. */
  heldAudio(): Uint8Array[] {
    return [...this.log.chunks()];
  }

  /**
   * The caller has been silent and everything they said was answered: keep only the newest `keepBytes` of what is
   * held (silence since then, and a little before it in case speech is just beginning).
   */
  releaseHeld(keepBytes: number): void {
    this.settleTo(this.log.total - keepBytes);
  }

  async close(): Promise<void> {
    if (this.state === "closed" || this.state === "closing") return;
    this.state = "closing";
    this.#stopKeepAlive();
    this.onEnding(new Error(`${this.label}: session closed`));
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState === 1) {
      const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
      this.trySend(() => socket.sendCloseStream({ type: "CloseStream" }));
      await Promise.race([closed, sleep(CLOSE_GRACE_MS)]);
    }
    socket?.close();
    this.state = "closed";
  }

  protected trySend(send: () => void): void {
    try {
      send();
      this.#lastSendAt = Date.now();
    } catch {
      // The socket died between our state check and the send; its close handler reconnects and resends.
    }
  }

  /** A result covered the audio up to this absolute offset: nothing before it is resent. */
  protected settleTo(absoluteBytes: number): void {
    let cut = Math.min(absoluteBytes, this.log.total);
    // Whole samples only: a linear16 stream must not resume mid-sample.
    if (this.options.encoding === "linear16") cut -= cut % 2;
    if (cut <= this.settledBytes) return;
    this.settledBytes = cut;
    this.log.dropBefore(cut);
  }

  /** An offset in the current connection's audio, in seconds, as an absolute byte offset. */
  protected connectionBytes(seconds: number): number {
    return this.connectionStartBytes + Math.round(seconds * this.bytesPerSecond);
  }

  protected giveUp(code: number, reason: string): void {
    this.state = "closed";
    this.#stopKeepAlive();
    this.onEnding(new Error(`${this.label}: session closed (${code} ${reason})`));
    this.onEvent({ type: "closed", code, reason });
  }

  #stopKeepAlive(): void {
    if (this.#keepAlive) clearInterval(this.#keepAlive);
    this.#keepAlive = null;
  }

  #keepAliveIfIdle(): void {
    const socket = this.socket;
    if (this.state !== "open" || !socket) return;
    if (Date.now() - this.#lastSendAt >= this.cfg.keepAliveMs) this.keepAlive(socket);
  }

  /** Without results (noise, a stuck vendor) the log would grow for the whole call; keep the newest. */
  #capBuffer(): void {
    const excess = this.log.total - this.settledBytes - this.#maxBufferBytes;
    if (excess > 0) this.settleTo(this.settledBytes + excess + (this.options.encoding === "linear16" ? excess % 2 : 0));
  }

  async #connectOnce(): Promise<S> {
    const socket = await this.openSocket();
    socket.on("message", (message) => {
      if (socket !== this.socket || this.state !== "open") return;
      if (!message || typeof message !== "object" || !("type" in message)) return;
      this.onMessage(socket, message as { type: string } & Record<string, unknown>);
    });
    socket.on("close", (event) => this.#onClose(socket, event.code, event.reason ?? ""));
    // Errors are followed by a close; the close handler decides what to do.
    socket.on("error", () => {});
    socket.connect();
    try {
      await handshake(socket, this.cfg.connectTimeoutMs);
    } catch (error) {
      socket.close();
      throw error;
    }
    if (socket.readyState !== 1) {
      socket.close();
      throw new Error("socket closed during the handshake");
    }
    return socket;
  }

  /** Tries up to `tries` times; null when every try failed (it emits nothing: the caller decides). */
  async #connectWithRetry(tries: number): Promise<S | null> {
    let lastError: unknown;
    for (let attempt = 0; attempt < tries; attempt++) {
      if (attempt > 0) {
        const base = this.cfg.reconnect.backoffMs * 2 ** (attempt - 1);
        await sleep(base / 2 + Math.random() * base);
      }
      if (this.state === "closing" || this.state === "closed") return null;
      try {
        return await this.#connectOnce();
      } catch (error) {
        lastError = error;
        if (isFatalHandshake(error)) break;
      }
    }
    this.#lastConnectError = describeError(lastError);
    return null;
  }

  #attach(socket: S): void {
    if (this.state === "closing" || this.state === "closed") {
      socket.close();
      return;
    }
    this.socket = socket;
    this.state = "open";
    // The new connection's time zero is the oldest audio we still hold.
    this.connectionStartBytes = this.settledBytes;
    this.onAttached(socket);
    for (const chunk of this.log.chunks()) this.trySend(() => socket.sendMedia(chunk));
    if (this.finalizePending) this.trySend(() => this.sendFinalize(socket));
  }

  #onClose(socket: S, code: number, reason: string): void {
    if (socket !== this.socket || this.state !== "open") return;
    this.socket = null;
    if (isFatalClose(code, reason)) {
      this.giveUp(code, reason);
      return;
    }
    this.state = "connecting";
    this.onLost();
    void this.#connectWithRetry(this.cfg.reconnect.attempts).then((next) => {
      if (next) this.#attach(next);
      else if (this.state === "connecting")
        this.giveUp(code, `${reason || "connection lost"}; reconnect failed: ${this.#lastConnectError}`);
    });
  }
}
