// Deepgram Aura-2 text to speech through the official SDK: a streaming WebSocket per call for the
// agent's replies, and REST for one-shot synthesis (pre-synthesized acknowledgements). Audio comes back
// as raw μ-law 8 kHz (no container), which is exactly what the telephony side sends on.
import type { DeepgramClient } from "@deepgram/sdk";
import type { TtsEvent, TtsProvider, TtsSession } from "../types.ts";
import { createDeepgramClient, describeError, handshake } from "./client.ts";

export interface DeepgramTtsOptions {
  apiKey: string;
  /** Default https://api.deepgram.com; http(s) and ws(s) forms are both accepted. */
  baseUrl?: string;
  /** Handshake timeout. Default 5000. */
  connectTimeoutMs?: number;
}

type SpeakSocket = Awaited<ReturnType<DeepgramClient["speak"]["v1"]["connect"]>>;
type SpeakConnectArgs = Parameters<DeepgramClient["speak"]["v1"]["connect"]>[0];

export function deepgramTts(opts: DeepgramTtsOptions): TtsProvider {
  const client = createDeepgramClient(opts.apiKey, opts.baseUrl);
  const connectTimeoutMs = opts.connectTimeoutMs ?? 5_000;
  return {
    name: "deepgram",
    async open(options, onEvent) {
      const args: SpeakConnectArgs = {
        model: options.voice,
        encoding: options.encoding,
        sample_rate: String(options.sampleRate),
        reconnectAttempts: 0,
        shouldReconnect: () => false,
        connectionTimeoutInSeconds: connectTimeoutMs / 1000,
      };
      const socket = await client.speak.v1.connect(args);
      const session = new DeepgramTtsSession(socket, onEvent);
      socket.connect();
      // After connect(): the SDK installs its message handler there, replacing any added before.
      session.receiveRaw();
      try {
        await handshake(socket, connectTimeoutMs);
        session.markOpen();
      } catch (error) {
        session.abandon();
        throw new Error(`Deepgram TTS: could not open voice ${options.voice}: ${describeError(error)}`);
      }
      return session;
    },
    async synthesize(text, options) {
      try {
        const response = await client.speak.v1.audio.generate({
          text,
          model: options.voice as never,
          encoding: options.encoding,
          sample_rate: options.sampleRate,
          container: "none",
        });
        return new Uint8Array(await response.arrayBuffer());
      } catch (error) {
        throw new Error(`Deepgram TTS: synthesis with voice ${options.voice} failed: ${describeError(error)}`);
      }
    },
  };
}

class DeepgramTtsSession implements TtsSession {
  /** No more sends once set. */
  private closed = false;
  /** No more events once set: the closed event was delivered. */
  private reported = false;
  /** Bumped by clear(): audio received under an older generation is dropped, not played. */
  private generation = 0;
  /** Clears sent and not yet confirmed; audio arriving meanwhile predates the clear. */
  private pendingClears = 0;
  /** Blobs are read asynchronously; chaining keeps audio and Flushed in the order they arrived. */
  private chain: Promise<void> = Promise.resolve();
  /** Messages come straight from the socket (see receiveRaw), audio as bytes, in order, synchronously. */
  private raw = false;

  constructor(
    private readonly socket: SpeakSocket,
    private readonly onEvent: (event: TtsEvent) => void,
  ) {
    socket.on("message", (message) => this.onMessage(message));
    socket.on("close", (event) => this.onClosed(event.code, event.reason || "connection closed"));
    socket.on("error", () => {});
  }

  speak(text: string): void {
    if (this.closed || text.length === 0) return;
    this.send(() => this.socket.sendText({ type: "Speak", text }));
  }

  flush(): void {
    if (this.closed) return;
    this.send(() => this.socket.sendFlush({ type: "Flush" }));
  }

  clear(): void {
    if (this.closed) return;
    this.generation += 1;
    this.pendingClears += 1;
    this.send(() => this.socket.sendClear({ type: "Clear" }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.send(() => this.socket.sendClose({ type: "Close" }));
    this.socket.close();
    this.onClosed(1000, "closed by client");
  }

  /**
   * The SDK copies every binary message into a Blob (to give all runtimes one payload type), which we
   * must then read back asynchronously: two copies, a transferable wrapper and a promise chain per
   * 100 ms of speech on every call, the largest allocation on the node while agents talk. When the
   * pinned SDK's handler is where we expect it, take its place on the socket and read messages as the
   * socket delivers them: text parsed as JSON like the SDK does, binary as bytes. Otherwise (a changed
   * SDK) nothing is touched and the Blob path below goes on working.
   */
  receiveRaw(): void {
    const sdkHandler = (this.socket as unknown as { binaryAwareHandler?: unknown }).binaryAwareHandler;
    const rws = this.socket.socket as unknown as {
      addEventListener?: (type: "message", listener: (event: { data: unknown }) => void) => void;
      removeEventListener?: (type: "message", listener: unknown) => void;
    };
    if (typeof sdkHandler !== "function" || !rws.addEventListener || !rws.removeEventListener) return;
    rws.removeEventListener("message", sdkHandler);
    rws.addEventListener("message", (event) => this.onRawMessage(event.data));
    this.raw = true;
  }

  private onRawMessage(data: unknown): void {
    if (this.reported) return;
    if (typeof data === "string") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        return;
      }
      this.onMessage(parsed);
      return;
    }
    const audio =
      data instanceof ArrayBuffer
        ? new Uint8Array(data)
        : ArrayBuffer.isView(data)
          ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
          : undefined;
    if (audio) {
      // Audio received while a Clear is unconfirmed predates it.
      if (this.pendingClears > 0 || audio.byteLength === 0) return;
      this.onEvent({ type: "audio", audio });
      return;
    }
    this.onMessage(data);
  }

  /** Drops a socket that never opened, without reporting it as a session that died. */
  abandon(): void {
    this.closed = true;
    this.reported = true;
    this.socket.close();
  }

  private send(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      // Sending on a dead socket: report the session dead once so a fallback can take over.
      this.onClosed(1006, `send failed: ${describeError(error)}`);
    }
  }

  /** Until the handshake succeeds, a close is a failed open (open() throws), not a session that died. */
  private opened = false;

  markOpen(): void {
    this.opened = true;
  }

  private onClosed(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.opened) {
      this.reported = true;
      return;
    }
    this.chain = this.chain.then(() => {
      this.reported = true;
      this.onEvent({ type: "closed", code, reason });
    });
  }

  private onMessage(message: unknown): void {
    if (this.reported) return;
    const generation = this.generation;
    if (message instanceof Blob) {
      if (this.pendingClears > 0) return;
      const read = message.arrayBuffer();
      this.chain = this.chain.then(async () => {
        const audio = new Uint8Array(await read);
        if (!this.reported && generation === this.generation && audio.byteLength > 0) {
          this.onEvent({ type: "audio", audio });
        }
      });
      return;
    }
    if (!message || typeof message !== "object" || !("type" in message)) return;
    const m = message as { type: string; sequence_id?: unknown };
    const sequenceId = typeof m.sequence_id === "number" ? m.sequence_id : -1;
    if (m.type === "Flushed") {
      // A Flushed before the Cleared confirms a flush the clear already threw away.
      if (this.pendingClears > 0) return;
      // Raw messages are delivered as they come (audio too), which keeps their order without a chain.
      if (this.raw) this.onEvent({ type: "flushed", sequenceId });
      else
        this.chain = this.chain.then(() => {
          if (!this.reported && generation === this.generation) this.onEvent({ type: "flushed", sequenceId });
        });
    } else if (m.type === "Cleared") {
      this.pendingClears = Math.max(0, this.pendingClears - 1);
      if (this.raw) this.onEvent({ type: "cleared", sequenceId });
      else
        this.chain = this.chain.then(() => {
          if (!this.reported) this.onEvent({ type: "cleared", sequenceId });
        });
    }
    // Metadata and Warning carry nothing the pipeline acts on.
  }
}
