// A transport codec turns one carrier's wire messages into audio frames and control events, and back.
// The pipeline never sees a vendor's JSON: Twilio, Telnyx and the browser differ only here.
import type { Transport } from "../../../shared/session-events.ts";

export type InboundEvent =
  | { type: "connected" }
  /** Carrier identifiers are for logs and support only; tenant and agent come from the token. */
  | { type: "start"; token: string | undefined; streamId: string; callRef?: string }
  /**
   * μ-law 8 kHz, at most one 20 ms frame (160 bytes) per event. The bytes may live in a buffer the codec
   * reuses for the next message: read them during the callback, copy them to keep them.
   */
  | { type: "media"; audio: Uint8Array }
  | { type: "mark"; name: string }
  | { type: "dtmf"; digit: string }
  | { type: "stop" }
  /** Ignored and counted; the call goes on. `reason` is a short metric label. */
  | { type: "invalid"; reason: string }
  /** The call cannot go on (e.g. a codec we cannot carry). */
  | { type: "fatal"; code: number; reason: string };

export interface Encoded {
  /** May be a view of a buffer the codec reuses: send it before encoding the next message. */
  data: string | Uint8Array;
  binary: boolean;
}

/** Out-of-band notices only the browser transport carries (telephony has no channel for them). */
export type WebNotice =
  | { type: "ready"; callId: string; sampleRate: number }
  | { type: "transcript"; role: "user" | "assistant"; text: string; interrupted?: boolean }
  | { type: "end"; reason: string };

export interface TransportCodec {
  readonly kind: Transport;
  /** Decodes one WebSocket message; may yield several events (reframed audio, reordered frames). */
  decode(message: ArrayBuffer, isBinary: boolean, emit: (event: InboundEvent) => void): void;
  /** Outbound messages name the stream; called once admission accepted the start message. */
  bindStream(streamId: string): void;
  /** One 160-byte μ-law frame. */
  encodeMedia(frame: Uint8Array): Encoded;
  encodeMark(name: string): Encoded;
  encodeClear(): Encoded;
  encodeNotice(notice: WebNotice): Encoded | undefined;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
export const MAX_INBOUND_FRAME_BYTES = 160;

/** Strict base64 → bytes, or a reason it is not one acceptable inbound frame. */
export function decodeMediaPayload(payload: string): Uint8Array | string {
  // 160 bytes are 216 characters; anything much longer is refused before the regex runs.
  if (payload.length === 0) return "empty-payload";
  if (payload.length > 4 * Math.ceil(MAX_INBOUND_FRAME_BYTES / 3) + 4) return "oversized-frame";
  if (!BASE64.test(payload)) return "not-base64";
  const bytes = Buffer.from(payload, "base64");
  if (bytes.length > MAX_INBOUND_FRAME_BYTES) return "oversized-frame";
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

export function parseJsonText(message: ArrayBuffer): unknown {
  try {
    return JSON.parse(Buffer.from(message).toString("utf8"));
  } catch {
    return undefined;
  }
}

export function toBase64(frame: Uint8Array): string {
  return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString("base64");
}
