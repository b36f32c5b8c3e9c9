// Deepgram Flux (/v2/listen) through the official SDK's listen.v2: a recogniser that reports turns (its TurnInfo
// messages become our events in flux-turns.ts; the wire format is flux-wire.ts). This is the session: Configure and
// keep-alive, on the socket that survives a drop (resending-session.ts: the audio since the last EndOfTurn is kept,
// resent on a new socket, and its times and turn indexes shifted so the pipeline sees one continuous stream).
import type { DeepgramClient } from "@deepgram/sdk";
import type { SttEvent, SttOptions, SttProvider, TurnThresholds } from "../types.ts";
import { createDeepgramClient } from "./client.ts";
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
import { type ResendingOptions, ResendingSession } from "./resending-session.ts";

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
      const session = new FluxSession(client, model, options, thresholds, onEvent, {
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

class FluxSession extends ResendingSession<FluxSocket> {
  readonly turnDetection = "semantic";
  private readonly turns = new FluxTurns({
    emit: (event) => this.onEvent(event),
    turnEnded: (windowEndSec, manual) => {
      if (manual) this.finalizePending = false;
      this.settleTo(this.connectionBytes(windowEndSec));
    },
  });
  private readonly pendingConfigures: PendingConfigure[] = [];
  private readonly configureTimeoutMs: number;

  constructor(
    private readonly client: DeepgramClient,
    private readonly model: string,
    options: SttOptions,
    private thresholds: TurnThresholds,
    onEvent: (event: SttEvent) => void,
    cfg: ResendingOptions & { configureTimeoutMs: number },
  ) {
    super(options, onEvent, cfg, "Deepgram Flux");
    this.configureTimeoutMs = cfg.configureTimeoutMs;
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
        }, this.configureTimeoutMs),
      };
      this.pendingConfigures.push(pending);
      const socket = this.socket;
      if (this.state === "open" && socket) {
        this.trySend(() => socket.sendConfigure({ type: "Configure", thresholds: configureThresholds(change) }));
      }
      // While reconnecting, the new socket opens with `wanted` and the answer comes from onAttached().
    });
  }

  protected openSocket(): Promise<FluxSocket> {
    return this.client.listen.v2.connect(
      fluxConnectArgs(this.model, this.options, this.thresholds, this.cfg.connectTimeoutMs),
    );
  }

  /** Flux has no KeepAlive message; silence is audio, so it keeps the stream (and its clock) going. */
  protected keepAlive(): void {
    const silence = new Uint8Array(Math.round(this.bytesPerSecond / 10)).fill(
      this.options.encoding === "mulaw" ? 0xff : 0,
    );
    this.sendAudio(silence);
  }

  protected sendFinalize(socket: FluxSocket): void {
    socket.sendForceEndTurn({ type: "ForceEndTurn" });
  }

  protected override onAttached(): void {
    this.turns.connected(this.connectionStartBytes / this.bytesPerSecond);
    // The socket opened with the thresholds now wanted: what configure() waited for is in force.
    for (const p of [...this.pendingConfigures]) {
      this.thresholds = p.wanted;
      this.settleConfigure(p, p.wanted);
    }
  }

  protected override onLost(): void {
    this.turns.lost();
  }

  protected override onEnding(error: Error): void {
    for (const p of [...this.pendingConfigures]) this.settleConfigure(p, error);
  }

  private settleConfigure(pending: PendingConfigure, outcome: TurnThresholds | Error): void {
    const i = this.pendingConfigures.indexOf(pending);
    if (i < 0) return;
    this.pendingConfigures.splice(i, 1);
    clearTimeout(pending.timer);
    if (outcome instanceof Error) pending.reject(outcome);
    else pending.resolve(outcome);
  }

  protected onMessage(socket: FluxSocket, m: { type: string } & Record<string, unknown>): void {
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
