// Deepgram Nova-3 live transcription through the official SDK, in a session that survives a dropped socket
// (resending-session.ts: the audio since the last final is kept, resent on a new socket, and its times shifted so
// the pipeline sees one continuous stream).
import type { DeepgramClient } from "@deepgram/sdk";
import type { SttEvent, SttOptions, SttProvider, SttWord } from "../types.ts";
import { createDeepgramClient } from "./client.ts";
import { type ResendingOptions, ResendingSession } from "./resending-session.ts";

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

export function deepgramStt(opts: DeepgramSttOptions): SttProvider {
  const client = createDeepgramClient(opts.apiKey, opts.baseUrl);
  const model = opts.model ?? "nova-3";
  const reconnect = opts.reconnect ?? { attempts: 3, backoffMs: 200 };
  return {
    name: "deepgram",
    async open(options, onEvent) {
      const session = new NovaSession(client, model, options, onEvent, {
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

class NovaSession extends ResendingSession<ListenSocket> {
  readonly turnDetection = "endpointing";

  constructor(
    private readonly client: DeepgramClient,
    private readonly model: string,
    options: SttOptions,
    onEvent: (event: SttEvent) => void,
    cfg: ResendingOptions,
  ) {
    super(options, onEvent, cfg, "Deepgram STT");
  }

  /** Nova-3 has no turn thresholds, and its endpointing cannot change mid-stream. */
  async configure(): Promise<null> {
    return null;
  }

  protected openSocket(): Promise<ListenSocket> {
    return this.client.listen.v1.connect(this.connectArgs());
  }

  protected keepAlive(socket: ListenSocket): void {
    this.trySend(() => socket.sendKeepAlive({ type: "KeepAlive" }));
  }

  protected sendFinalize(socket: ListenSocket): void {
    socket.sendFinalize({ type: "Finalize" });
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

  protected onMessage(_socket: ListenSocket, m: { type: string } & Record<string, unknown>): void {
    const offset = this.connectionStartBytes / this.bytesPerSecond;
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
          this.settleTo(this.connectionBytes(r.start + r.duration));
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
