// Deepgram Flux (/v2/listen) through the official SDK's listen.v2: a recogniser that reports turns (its TurnInfo
// messages become our events in flux-turns.ts; the wire format is flux-wire.ts). This is the session: the socket,
// Configure, keep-alive and the audio kept for resending. Like the Nova-3 session it survives a dropped socket: the SDK's reconnect is off, the
// audio since the last EndOfTurn is kept, resent on a new socket, and its times and turn indexes shifted so the
// pipeline sees one continuous stream.
import type { DeepgramClient } from "@deepgram/sdk";
import type { SttEvent, SttOptions, SttProvider, SttSession, TurnThresholds } from "../types.ts";
import { AudioLog } from "./audio-log.ts";
import { createDeepgramClient, describeError, isFatalClose, isFatalHandshake } from "./client.ts";
import { FluxTurns } from "./flux-turns.ts";
import {
  configureThresholds,
  FLUX_DEFAULT_THRESHOLDS,
  type FluxSocket,
  fluxConnectArgs,
  type TurnInfo,
  thresholdProblem,
  thresholdsConfigured,
} from "./flux-wire.ts";

export { FLUX_DEFAULT_THRESHOLDS, thresholdProblem } from "./flux-wire.ts";

export interface DeepgramFluxSttOptions {
  apiKey: string;
  /** Default wss://api.deepgram.com; http(s) and ws(s) forms are both accepted. */
  baseUrl?: string;
  /** Default flux-general-en; a language other than English picks flux-general-multi. */
  model?: string;
  /** Reopen attempts after an unexpected close, with exponential backoff. Default 3 attempts, 200 ms. */
  reconnect?: { attempts: number; backoffMs: number };
  /** Handshake timeout. Default 5000. */
  connectTimeoutMs?: number;
  /** Cap on audio kept for resending, in milliseconds of audio. Default 60 000. */
  maxBufferMs?: number;
  /** Flux has no KeepAlive: after this long without audio, 100 ms of silence is sent instead. Default 4000. */
  keepAliveMs?: number;
  /** How long configure() waits for ConfigureSuccess / ConfigureFailure. Default 3000. */
  configureTimeoutMs?: number;
}

const CLOSE_GRACE_MS = 1_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function deepgramFluxStt(opts: DeepgramFluxSttOptions): SttProvider {
  const client = createDeepgramClient(opts.apiKey, opts.baseUrl);
  const reconnect = opts.reconnect ?? { attempts: 3, backoffMs: 200 };
  return {
    name: "deepgram-flux",
    async open(options, onEvent) {
      const thresholds = options.turn ?? FLUX_DEFAULT_THRESHOLDS;
      const problem = thresholdProblem(thresholds);
      if (problem) throw new Error(`Deepgram Flux: ${problem}`);
      const english = /^en\b/i.test(options.language);
      const model = opts.model ?? (english ? "flux-general-en" : "flux-general-multi");
      const session = new ResilientFluxSession(client, model, options, thresholds, onEvent, {
        reconnect,
        connectTimeoutMs: opts.connectTimeoutMs ?? 5_000,
        maxBufferMs: opts.maxBufferMs ?? 60_000,
        keepAliveMs: opts.keepAliveMs ?? 4_000,
        configureTimeoutMs: opts.configureTimeoutMs ?? 3_000,
      });
      await session.start();
      return session;
    },
  };
}

interface PendingConfigure {
  wanted: TurnThresholds;
  resolve: (t: TurnThresholds) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

class ResilientFluxSession implements SttSession {
  readonly turnDetection = "semantic";
  private socket: FluxSocket | null = null;
  private state: "connecting" | "open" | "closing" | "closed" = "connecting";
  private readonly log: AudioLog;
  /** Absolute byte offset up to which turns have ended (nothing before it is resent). */
  private settledBytes = 0;
  /** Absolute byte offset at which the current connection's audio (its time zero) begins. */
  private connectionStartBytes = 0;
  private readonly turns = new FluxTurns({
    emit: (event) => this.onEvent(event),
    turnEnded: (windowEndSec, manual) => {
      if (manual) this.forcePending = false;
      const endBytes = this.connectionStartBytes + Math.round(windowEndSec * this.bytesPerSecond);
      this.settleTo(this.options.encoding === "linear16" ? endBytes - (endBytes % 2) : endBytes);
    },
  });
  private forcePending = false;
  private lastConnectError = "";
  private lastSendAt = Date.now();
  private keepAlive: ReturnType<typeof setInterval> | null = null;
  private readonly bytesPerSecond: number;
  private readonly maxBufferBytes: number;
  private readonly pendingConfigures: PendingConfigure[] = [];

  constructor(
    private readonly client: DeepgramClient,
    private readonly model: string,
    private readonly options: SttOptions,
    private thresholds: TurnThresholds,
    private readonly onEvent: (event: SttEvent) => void,
    private readonly cfg: {
      reconnect: { attempts: number; backoffMs: number };
      connectTimeoutMs: number;
      maxBufferMs: number;
      keepAliveMs: number;
      configureTimeoutMs: number;
    },
  ) {
    this.bytesPerSecond = options.sampleRate * (options.encoding === "linear16" ? 2 : 1);
    this.maxBufferBytes = Math.round((cfg.maxBufferMs / 1000) * this.bytesPerSecond);
    this.log = new AudioLog(this.bytesPerSecond);
  }

  async start(): Promise<void> {
    const socket = await this.connectWithRetry(1 + this.cfg.reconnect.attempts);
    if (!socket) throw new Error(`Deepgram Flux: could not open a session: ${this.lastConnectError}`);
    this.attach(socket);
    this.keepAlive = setInterval(() => this.keepAliveIfIdle(), Math.max(50, this.cfg.keepAliveMs / 2));
    this.keepAlive.unref?.();
  }

  sendAudio(audio: Uint8Array): void {
    // A zero-length binary frame would end the stream.
    if (audio.byteLength === 0 || this.state === "closing" || this.state === "closed") return;
    const data = this.log.append(audio);
    this.capBuffer();
    if (this.state === "open" && this.socket) this.trySend(() => this.socket?.sendMedia(data));
  }

  finalize(): void {
    if (this.state === "closing" || this.state === "closed") return;
    this.forcePending = true;
    if (this.state === "open" && this.socket)
      this.trySend(() => this.socket?.sendForceEndTurn({ type: "ForceEndTurn" }));
  }

  configure(change: Partial<TurnThresholds>): Promise<TurnThresholds | null> {
    if (this.state === "closing" || this.state === "closed") {
      return Promise.reject(new Error("Deepgram Flux: configure() after the session closed"));
    }
    const wanted: TurnThresholds = { ...this.thresholds, ...change };
    const problem = thresholdProblem(wanted);
    if (problem) return Promise.reject(new Error(`Deepgram Flux: ${problem}`));
    return new Promise<TurnThresholds>((resolve, reject) => {
      const pending: PendingConfigure = {
        wanted,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.settleConfigure(pending, new Error("Deepgram Flux: no answer to Configure"));
        }, this.cfg.configureTimeoutMs),
      };
      this.pendingConfigures.push(pending);
      if (this.state === "open" && this.socket) this.sendConfigure(this.socket, change);
      // While reconnecting, the new socket opens with `wanted` and the answer comes from attach().
    });
  }

  async close(): Promise<void> {
    if (this.state === "closed" || this.state === "closing") return;
    this.state = "closing";
    this.stopKeepAlive();
    this.failConfigures(new Error("Deepgram Flux: session closed"));
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

  // ── Socket ──

  private sendConfigure(socket: FluxSocket, change: Partial<TurnThresholds>): void {
    this.trySend(() => socket.sendConfigure({ type: "Configure", thresholds: configureThresholds(change) }));
  }

  private settleConfigure(pending: PendingConfigure, outcome: TurnThresholds | Error): void {
    const i = this.pendingConfigures.indexOf(pending);
    if (i < 0) return;
    this.pendingConfigures.splice(i, 1);
    clearTimeout(pending.timer);
    if (outcome instanceof Error) pending.reject(outcome);
    else pending.resolve(outcome);
  }

  private failConfigures(error: Error): void {
    for (const p of [...this.pendingConfigures]) this.settleConfigure(p, error);
  }

  private stopKeepAlive(): void {
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = null;
  }

  private trySend(send: () => void): void {
    try {
      send();
      this.lastSendAt = Date.now();
    } catch {
      // The socket died between our state check and the send; its close handler reconnects and resends.
    }
  }

  /** Flux has no KeepAlive message; silence is audio, so it keeps the stream (and its clock) going. */
  private keepAliveIfIdle(): void {
    if (this.state !== "open" || !this.socket) return;
    if (Date.now() - this.lastSendAt < this.cfg.keepAliveMs) return;
    const silence = new Uint8Array(Math.round(this.bytesPerSecond / 10)).fill(
      this.options.encoding === "mulaw" ? 0xff : 0,
    );
    this.sendAudio(silence);
  }

  private capBuffer(): void {
    const excess = this.log.total - this.settledBytes - this.maxBufferBytes;
    if (excess <= 0) return;
    const cut = this.settledBytes + excess + (this.options.encoding === "linear16" ? excess % 2 : 0);
    this.settledBytes = cut;
    this.log.dropBefore(cut);
  }

  private settleTo(absoluteBytes: number): void {
    const cut = Math.min(absoluteBytes, this.log.total);
    if (cut <= this.settledBytes) return;
    this.settledBytes = cut;
    this.log.dropBefore(cut);
  }

  private async connectOnce(): Promise<FluxSocket> {
    const socket = await this.client.listen.v2.connect(
      fluxConnectArgs(this.model, this.options, this.thresholds, this.cfg.connectTimeoutMs),
    );
    socket.on("message", (message) => this.onMessage(socket, message));
    socket.on("close", (event) => this.onClose(socket, event.code, event.reason ?? ""));
    socket.on("error", () => {});
    socket.connect();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        socket.waitForOpen(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("handshake timed out")), this.cfg.connectTimeoutMs);
        }),
      ]);
    } catch (error) {
      socket.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    if (socket.readyState !== 1) {
      socket.close();
      throw new Error("socket closed during the handshake");
    }
    return socket;
  }

  private async connectWithRetry(tries: number): Promise<FluxSocket | null> {
    let lastError: unknown;
    for (let attempt = 0; attempt < tries; attempt++) {
      if (attempt > 0) {
        const base = this.cfg.reconnect.backoffMs * 2 ** (attempt - 1);
        await sleep(base / 2 + Math.random() * base);
      }
      if (this.state === "closing" || this.state === "closed") return null;
      try {
        return await this.connectOnce();
      } catch (error) {
        lastError = error;
        if (isFatalHandshake(error)) break;
      }
    }
    this.lastConnectError = describeError(lastError);
    return null;
  }

  private attach(socket: FluxSocket): void {
    if (this.state === "closing" || this.state === "closed") {
      socket.close();
      return;
    }
    this.socket = socket;
    this.state = "open";
    this.connectionStartBytes = this.settledBytes;
    this.turns.connected(this.connectionStartBytes / this.bytesPerSecond);
    // The socket opened with the thresholds now wanted: what configure() waited for is in force.
    for (const p of [...this.pendingConfigures]) {
      this.thresholds = p.wanted;
      this.settleConfigure(p, p.wanted);
    }
    for (const chunk of this.log.chunks()) this.trySend(() => socket.sendMedia(chunk));
    if (this.forcePending) this.trySend(() => socket.sendForceEndTurn({ type: "ForceEndTurn" }));
  }

  private onClose(socket: FluxSocket, code: number, reason: string): void {
    if (socket !== this.socket || this.state !== "open") return;
    this.socket = null;
    if (isFatalClose(code, reason)) {
      this.giveUp(code, reason);
      return;
    }
    this.state = "connecting";
    this.turns.lost();
    void this.connectWithRetry(this.cfg.reconnect.attempts).then((next) => {
      if (next) this.attach(next);
      else if (this.state === "connecting") {
        this.giveUp(code, `${reason || "connection lost"}; reconnect failed: ${this.lastConnectError}`);
      }
    });
  }

  private giveUp(code: number, reason: string): void {
    this.state = "closed";
    this.stopKeepAlive();
    this.failConfigures(new Error(`Deepgram Flux: session closed (${code} ${reason})`));
    this.onEvent({ type: "closed", code, reason });
  }

  // ── Messages ──

  private onMessage(socket: FluxSocket, message: unknown): void {
    if (socket !== this.socket || this.state !== "open") return;
    if (!message || typeof message !== "object" || !("type" in message)) return;
    const m = message as { type: string } & Record<string, unknown>;
    switch (m.type) {
      case "TurnInfo":
        this.turns.onTurnInfo(m as unknown as TurnInfo);
        return;
      case "ConfigureSuccess": {
        const pending = this.pendingConfigures[0];
        this.thresholds = thresholdsConfigured(m, this.thresholds);
        if (pending) this.settleConfigure(pending, this.thresholds);
        return;
      }
      case "ConfigureFailure": {
        const pending = this.pendingConfigures[0];
        if (pending) this.settleConfigure(pending, new Error("Deepgram Flux refused the Configure"));
        return;
      }
      case "Error": {
        // Fatal by definition; the server closes next. Say why rather than a bare close code.
        const code = typeof m.code === "string" ? m.code : "ERROR";
        const description = typeof m.description === "string" ? m.description : "";
        this.socket = null;
        socket.close();
        this.giveUp(1011, `${code}: ${description}`.trim());
        return;
      }
      default:
        // Connected and anything newer.
        return;
    }
  }
}
