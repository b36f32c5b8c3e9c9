// Deepgram Nova-3 live transcription through the official SDK, wrapped in a session that survives a
// dropped socket. The SDK's own reconnect is off: it would reopen the socket but not resend the audio
// the dead socket had not yet turned into final transcripts, so the caller's words in flight would be
// lost. This session keeps every byte since the last final, reopens, resends it, and shifts the new
// connection's timestamps so the pipeline sees one continuous stream.
import type { DeepgramClient } from "@deepgram/sdk";
import type { SttEvent, SttOptions, SttProvider, SttSession, SttWord } from "../types.ts";
import { AudioLog } from "./audio-log.ts";
import { createDeepgramClient, describeError, isFatalClose, isFatalHandshake } from "./client.ts";

export interface DeepgramSttOptions {
  apiKey: string;
  /** Default wss://api.deepgram.com; http(s) and ws(s) forms are both accepted. */
  baseUrl?: string;
  /** Default nova-3. */
  model?: string;
  /** Reopen attempts after an unexpected close, with exponential backoff. Default 3 attempts, 200 ms. */
  reconnect?: { attempts: number; backoffMs: number };
  /** Handshake timeout. Default 5000. */
  connectTimeoutMs?: number;
  /** Cap on audio kept for resending, in milliseconds of audio. Default 60 000. */
  maxBufferMs?: number;
  /** KeepAlive after this long without sending; Deepgram closes a socket idle for 10 s. Default 4000. */
  keepAliveMs?: number;
}

type ListenSocket = Awaited<ReturnType<DeepgramClient["listen"]["v1"]["connect"]>>;
type ListenConnectArgs = Parameters<DeepgramClient["listen"]["v1"]["connect"]>[0];

/** After CloseStream, how long to wait for the server to close before closing ourselves. */
const CLOSE_GRACE_MS = 1_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function deepgramStt(opts: DeepgramSttOptions): SttProvider {
  const client = createDeepgramClient(opts.apiKey, opts.baseUrl);
  const model = opts.model ?? "nova-3";
  const reconnect = opts.reconnect ?? { attempts: 3, backoffMs: 200 };
  return {
    name: "deepgram",
    async open(options, onEvent) {
      const session = new ResilientDeepgramSession(client, model, options, onEvent, {
        reconnect,
        connectTimeoutMs: opts.connectTimeoutMs ?? 5_000,
        maxBufferMs: opts.maxBufferMs ?? 60_000,
        keepAliveMs: opts.keepAliveMs ?? 4_000,
      });
      await session.start();
      return session;
    },
  };
}

class ResilientDeepgramSession implements SttSession {
  readonly turnDetection = "endpointing";
  private socket: ListenSocket | null = null;
  private state: "connecting" | "open" | "closing" | "closed" = "connecting";
  /** Audio not yet covered by a final transcript. */
  private readonly log: AudioLog;
  /** Absolute byte offset up to which Deepgram has sent finals. */
  private finalizedBytes = 0;
  /** Absolute byte offset at which the current connection's audio (its time zero) begins. */
  private connectionStartBytes = 0;
  private finalizePending = false;
  private lastConnectError = "";
  private lastSendAt = Date.now();
  private keepAlive: ReturnType<typeof setInterval> | null = null;
  private readonly bytesPerSecond: number;
  private readonly maxBufferBytes: number;

  constructor(
    private readonly client: DeepgramClient,
    private readonly model: string,
    private readonly options: SttOptions,
    private readonly onEvent: (event: SttEvent) => void,
    private readonly cfg: {
      reconnect: { attempts: number; backoffMs: number };
      connectTimeoutMs: number;
      maxBufferMs: number;
      keepAliveMs: number;
    },
  ) {
    this.bytesPerSecond = options.sampleRate * (options.encoding === "linear16" ? 2 : 1);
    this.maxBufferBytes = Math.round((cfg.maxBufferMs / 1000) * this.bytesPerSecond);
    this.log = new AudioLog(this.bytesPerSecond);
  }

  async start(): Promise<void> {
    // Opening is one try plus the reconnect attempts: a blip at call start deserves the same patience.
    const socket = await this.connectWithRetry(1 + this.cfg.reconnect.attempts);
    if (!socket) throw new Error(`Deepgram STT: could not open a session: ${this.lastConnectError}`);
    this.attach(socket);
    this.keepAlive = setInterval(() => this.sendKeepAliveIfIdle(), Math.max(50, this.cfg.keepAliveMs / 2));
    this.keepAlive.unref?.();
  }

  sendAudio(audio: Uint8Array): void {
    // A zero-length binary frame means "close stream" to Deepgram.
    if (audio.byteLength === 0 || this.state === "closing" || this.state === "closed") return;
    const data = this.log.append(audio);
    this.capBuffer();
    if (this.state === "open" && this.socket) this.trySend(() => this.socket?.sendMedia(data));
  }

  finalize(): void {
    if (this.state === "closing" || this.state === "closed") return;
    this.finalizePending = true;
    if (this.state === "open" && this.socket) this.trySend(() => this.socket?.sendFinalize({ type: "Finalize" }));
  }

  /** Nova-3 has no turn thresholds, and its endpointing cannot change mid-stream. */
  async configure(): Promise<null> {
    return null;
  }

  async close(): Promise<void> {
    if (this.state === "closed" || this.state === "closing") return;
    this.state = "closing";
    this.stopKeepAlive();
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

  private stopKeepAlive(): void {
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = null;
  }

  private trySend(send: () => void): void {
    try {
      send();
      this.lastSendAt = Date.now();
    } catch {
      // The socket died between our state check and the send; its close handler reconnects and
      // resends from the buffer, which already holds this audio.
    }
  }

  private sendKeepAliveIfIdle(): void {
    if (this.state !== "open" || !this.socket) return;
    if (Date.now() - this.lastSendAt >= this.cfg.keepAliveMs) {
      this.trySend(() => this.socket?.sendKeepAlive({ type: "KeepAlive" }));
    }
  }

  /** Without finals (noise, a stuck vendor) the buffer would grow for the whole call; keep the newest. */
  private capBuffer(): void {
    const excess = this.log.total - this.finalizedBytes - this.maxBufferBytes;
    if (excess <= 0) return;
    // Whole samples only: a linear16 stream must not resume mid-sample.
    const cut = this.finalizedBytes + excess + (this.options.encoding === "linear16" ? excess % 2 : 0);
    this.finalizedBytes = cut;
    this.log.dropBefore(cut);
  }

  private trimTo(absoluteBytes: number): void {
    const cut = Math.min(absoluteBytes, this.log.total);
    if (cut <= this.finalizedBytes) return;
    this.finalizedBytes = cut;
    this.log.dropBefore(cut);
  }

  private connectArgs(): ListenConnectArgs {
    const o = this.options;
    const args: ListenConnectArgs = {
      model: this.model,
      encoding: o.encoding,
      sample_rate: o.sampleRate,
      channels: 1,
      interim_results: "true",
      endpointing: o.endpointingMs,
      utterance_end_ms: o.utteranceEndMs,
      vad_events: "true",
      smart_format: "true",
      punctuate: "true",
      language: o.language,
      reconnectAttempts: 0,
      shouldReconnect: () => false,
      connectionTimeoutInSeconds: this.cfg.connectTimeoutMs / 1000,
    };
    if (o.keyterms && o.keyterms.length > 0) args.keyterm = o.keyterms;
    if (o.tag) args.tag = o.tag;
    return args;
  }

  private async connectOnce(): Promise<ListenSocket> {
    const socket = await this.client.listen.v1.connect(this.connectArgs());
    socket.on("message", (message) => this.onMessage(socket, message));
    socket.on("close", (event) => this.onClose(socket, event.code, event.reason ?? ""));
    // Errors are followed by a close; the close handler decides what to do.
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

  /** Tries up to `tries` times; null when every try failed (it emits nothing: the caller decides). */
  private async connectWithRetry(tries: number): Promise<ListenSocket | null> {
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

  private attach(socket: ListenSocket): void {
    if (this.state === "closing" || this.state === "closed") {
      socket.close();
      return;
    }
    this.socket = socket;
    this.state = "open";
    // The new connection's time zero is the oldest audio we still hold.
    this.connectionStartBytes = this.finalizedBytes;
    for (const chunk of this.log.chunks()) this.trySend(() => socket.sendMedia(chunk));
    if (this.finalizePending) this.trySend(() => socket.sendFinalize({ type: "Finalize" }));
  }

  private onClose(socket: ListenSocket, code: number, reason: string): void {
    if (socket !== this.socket || this.state !== "open") return;
    this.socket = null;
    if (isFatalClose(code, reason)) {
      this.giveUp(code, reason);
      return;
    }
    this.state = "connecting";
    void this.connectWithRetry(this.cfg.reconnect.attempts).then((next) => {
      if (next) this.attach(next);
      else if (this.state === "connecting")
        this.giveUp(code, `${reason || "connection lost"}; reconnect failed: ${this.lastConnectError}`);
    });
  }

  private giveUp(code: number, reason: string): void {
    this.state = "closed";
    this.stopKeepAlive();
    this.onEvent({ type: "closed", code, reason });
  }

  private offsetSeconds(): number {
    return this.connectionStartBytes / this.bytesPerSecond;
  }

  private onMessage(socket: ListenSocket, message: unknown): void {
    if (socket !== this.socket || this.state !== "open") return;
    if (!message || typeof message !== "object" || !("type" in message)) return;
    const offset = this.offsetSeconds();
    const m = message as { type: string } & Record<string, unknown>;
    switch (m.type) {
      case "Results": {
        const r = m as unknown as ResultsMessage;
        const alt = r.channel?.alternatives?.[0];
        const text = (alt?.transcript ?? "").trim();
        const words: SttWord[] = (alt?.words ?? []).map((w) => ({
          word: w.punctuated_word ?? w.word,
          start: w.start + offset,
          end: w.end + offset,
          confidence: w.confidence,
        }));
        if (r.is_final) {
          const endBytes = this.connectionStartBytes + Math.round((r.start + r.duration) * this.bytesPerSecond);
          this.trimTo(this.options.encoding === "linear16" ? endBytes - (endBytes % 2) : endBytes);
          if (r.from_finalize) this.finalizePending = false;
          // Empty finals are silence; a Finalize's answer is passed on even when empty so a waiting
          // turn-taker learns there was nothing more.
          if (text.length === 0 && !r.from_finalize) return;
          this.onEvent({
            type: "final",
            text,
            words,
            speechFinal: r.speech_final === true,
            fromFinalize: r.from_finalize === true,
            confidence: alt?.confidence ?? 0,
          });
        } else if (text.length > 0) {
          this.onEvent({ type: "interim", text, words });
        }
        return;
      }
      case "SpeechStarted": {
        const timestamp = typeof m.timestamp === "number" ? m.timestamp : 0;
        this.onEvent({ type: "speech-started", timestamp: timestamp + offset });
        return;
      }
      case "UtteranceEnd": {
        const lastWordEnd = typeof m.last_word_end === "number" ? m.last_word_end : 0;
        this.onEvent({ type: "utterance-end", lastWordEnd: lastWordEnd + offset });
        return;
      }
      default:
        // Metadata and anything newer: nothing the pipeline needs.
        return;
    }
  }
}

interface ResultsMessage {
  start: number;
  duration: number;
  is_final?: boolean;
  speech_final?: boolean;
  from_finalize?: boolean;
  channel?: {
    alternatives?: {
      transcript?: string;
      confidence?: number;
      words?: { word: string; punctuated_word?: string; start: number; end: number; confidence: number }[];
    }[];
  };
}
