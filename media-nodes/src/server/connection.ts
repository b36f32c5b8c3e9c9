// One WebSocket from a carrier or a browser: protocol state before and around the call. It becomes a
// call only through admission; until then nothing is spent on it. Bad input is ignored and counted,
// and too much of it ends this connection only.

import type { WebSocket } from "uWebSockets.js";
import { performance } from "node:perf_hooks";
import type { Transport } from "../../../shared/session-events.ts";
import type { Admission, AdmittedCall } from "../admission/admission.ts";
import type { MediaMetrics } from "../metrics/media-metrics.ts";
import type { Call, CallLink } from "../pipeline/call.ts";
import { PreStartBuffer } from "../pipeline/caller-audio.ts";
import type { SendStatus } from "../pipeline/pacer.ts";
import type { Encoded, InboundEvent, TransportCodec, WebNotice } from "../transports/types.ts";
import { CloseCode, closeReason } from "./close-codes.ts";
import type { Logger } from "./logger.ts";

export interface SocketData {
  transport: Transport;
  remote: string;
  connection?: Connection;
}

export interface ConnectionDeps {
  admission: Admission;
  metrics: MediaMetrics;
  logger: Logger;
  /**
   * Builds the call once admitted (the server wires providers and per-agent pieces). `preStart` holds the caller
   * audio that arrived meanwhile; the call goes on filling it until its providers are open.
   */
  createCall: (call: AdmittedCall, connection: Connection, start: StartInfo) => Call;
  onClosed: (connection: Connection) => void;
  startTimeoutMs: number;
  /** The node's frame clock: due outbound frames leave before each inbound message is handled. */
  clock?: { runDue(): void };
}

/** What the start message told us, for the call. */
export interface StartInfo {
  preStart: PreStartBuffer;
  /** The carrier's own identifiers (support only; never trusted). */
  carrier: { streamId?: string; callRef?: string };
}

/** Past this many ignored messages a peer is broken or hostile; its connection ends. */
const MAX_INVALID_MESSAGES = 200;

export class Connection implements CallLink {
  state: "awaiting-start" | "admitting" | "live" | "closed" = "awaiting-start";
  call: Call | undefined;
  invalid = 0;
  closed = false;
  readonly openedAt = Date.now();
  #startTimer: NodeJS.Timeout | undefined;
  /** The one buffer of caller audio before the call has started: admission, then the providers opening. */
  #preStart: PreStartBuffer | undefined;
  readonly #log: Logger;

  constructor(
    private readonly ws: WebSocket<SocketData>,
    readonly codec: TransportCodec,
    private readonly deps: ConnectionDeps,
  ) {
    this.#log = deps.logger.child({ transport: codec.kind });
    this.#startTimer = setTimeout(() => {
      if (this.state === "awaiting-start") {
        this.#refuse(CloseCode.startTimeout, `no start message within ${deps.startTimeoutMs} ms`, "start-timeout");
      }
    }, deps.startTimeoutMs);
    this.#startTimer.unref();
  }

  // ── inbound ───────────────────────────────────────────────────────────────────────────────────

  onMessage(message: ArrayBuffer, isBinary: boolean): void {
    this.deps.clock?.runDue();
    if (this.closed) return;
    try {
      this.codec.decode(message, isBinary, this.#onEvent);
    } catch (err) {
      // A codec bug on one peer's input must not take the node down.
      this.#log.error("decode failed", { error: String(err) });
      this.#invalid("decode-error");
    }
  }

  readonly #onEvent = (event: InboundEvent): void => {
    switch (event.type) {
      case "media":
        if (this.state === "live") this.call?.onAudio(event.audio);
        else if (this.state === "admitting") this.#preStart?.push(event.audio, performance.now());
        else this.#invalid("media-before-start");
        return;
      case "start":
        if (this.state !== "awaiting-start") {
          this.#invalid("second-start");
          return;
        }
        this.state = "admitting";
        this.#preStart = new PreStartBuffer();
        clearTimeout(this.#startTimer);
        void this.#admit(event);
        return;
      case "mark":
        this.call?.onMark(event.name);
        return;
      case "dtmf":
        this.call?.onDtmf(event.digit);
        return;
      case "stop":
        if (this.call) this.call.end("caller-hung-up", "carrier sent stop");
        else this.end(CloseCode.normal, "stream stopped");
        return;
      case "connected":
        return;
      case "invalid":
        this.#invalid(event.reason);
        return;
      case "fatal":
        this.deps.metrics.admissionRefused.inc({ reason: "unsupported-media" });
        if (this.call) this.call.end("protocol-error", event.reason, event.code, closeReason(event.reason));
        else this.end(event.code, event.reason);
        return;
    }
  };

  async #admit(start: Extract<InboundEvent, { type: "start" }>): Promise<void> {
    let result: Awaited<ReturnType<Admission["admit"]>>;
    try {
      result = await this.deps.admission.admit(start.token, { callRef: start.callRef });
    } catch (err) {
      this.#log.error("admission failed", { error: String(err) });
      result = { ok: false, code: CloseCode.internalError, reason: "admission failed", kind: "error" };
    }
    if (this.closed) return;
    if (!result.ok) {
      this.#refuse(result.code, result.reason, result.kind);
      return;
    }
    this.codec.bindStream(start.streamId);
    const carrier = {
      ...(start.streamId ? { streamId: start.streamId.slice(0, 128) } : {}),
      ...(start.callRef ? { callRef: start.callRef.slice(0, 256) } : {}),
    };
    const preStart = this.#preStart ?? new PreStartBuffer();
    this.#preStart = undefined;
    const call = this.deps.createCall(result.call, this, { preStart, carrier });
    this.call = call;
    // From here on frames go to the call, which keeps them in the same buffer until it has started.
    this.state = "live";
    try {
      await call.start();
    } catch (err) {
      this.#log.error("call start failed", { error: String(err) });
      call.end("internal-error", String(err), CloseCode.internalError, "internal error");
    }
  }

  #refuse(code: number, reason: string, kind: string): void {
    this.deps.metrics.admissionRefused.inc({ reason: kind });
    this.#log.info("call refused", { code, reason });
    this.end(code, reason);
  }

  #invalid(reason: string): void {
    this.deps.metrics.badMessages.inc({ reason });
    if (++this.invalid > MAX_INVALID_MESSAGES) {
      const text = `too many invalid messages (last: ${reason})`;
      if (this.call) this.call.end("protocol-error", text, CloseCode.protocolError, text);
      else this.end(CloseCode.protocolError, text);
    }
  }

  /** The peer went away (or we closed): the call, if any, ends as a hang-up. */
  onClose(): void {
    if (this.state === "closed") return;
    this.closed = true;
    this.state = "closed";
    clearTimeout(this.#startTimer);
    this.call?.end("caller-hung-up", "socket closed");
    this.deps.onClosed(this);
  }

  onDrain(): void {
    // Nothing to resume: the pacer re-checks the buffered amount every frame.
  }

  // ── CallLink ──────────────────────────────────────────────────────────────────────────────────

  sendFrame(frame: Uint8Array, marksAfter: readonly string[]): SendStatus {
    if (this.closed) return "closed";
    this.#frameOut = this.codec.encodeMedia(frame);
    this.#marksOut = marksAfter;
    this.ws.cork(this.#sendCorked);
    this.#frameOut = undefined;
    return this.#sendStatus === 2 ? "backpressure" : "sent";
  }

  // Every call sends 50 frames a second: the corked write is one bound function, not a closure per frame.
  #frameOut: Encoded | undefined;
  #marksOut: readonly string[] = [];
  #sendStatus = 1;
  readonly #sendCorked = (): void => {
    const media = this.#frameOut!;
    this.#sendStatus = this.ws.send(media.data, media.binary);
    for (const name of this.#marksOut) {
      const mark = this.codec.encodeMark(name);
      this.ws.send(mark.data, mark.binary);
    }
  };

  sendMarks(names: readonly string[]): void {
    if (this.closed || names.length === 0) return;
    this.ws.cork(() => {
      for (const name of names) {
        const mark = this.codec.encodeMark(name);
        this.ws.send(mark.data, mark.binary);
      }
    });
  }

  sendClear(): void {
    if (this.closed) return;
    const clear = this.codec.encodeClear();
    this.ws.cork(() => this.ws.send(clear.data, clear.binary));
  }

  sendNotice(notice: WebNotice): void {
    if (this.closed) return;
    const encoded = this.codec.encodeNotice(notice);
    if (encoded) this.ws.cork(() => this.ws.send(encoded.data, encoded.binary));
  }

  bufferedAmount(): number {
    return this.closed ? 0 : this.ws.getBufferedAmount();
  }

  end(code: number, reason: string): void {
    if (this.closed) return;
    // ws.end runs the close handler synchronously; mark closed first so nothing sends on a dead socket.
    this.closed = true;
    this.state = "closed";
    clearTimeout(this.#startTimer);
    try {
      this.ws.end(code, closeReason(reason));
    } catch {
      // Already closed underneath us.
    }
    this.call?.end("caller-hung-up", "socket closed");
    this.deps.onClosed(this);
  }
}
