// Twilio Media Streams, bidirectional (<Connect><Stream>). JSON text frames with an `event`
// discriminator; audio is base64 μ-law 8 kHz, 160 bytes per 20 ms. See protocols.md §1.
//
// Media frames are 50 a second per call in each direction, so both directions avoid the general
// machinery: inbound media goes through a byte-level recogniser (media-fast-path.ts) and falls back to
// the zod schemas below for anything it does not recognise; outbound media is written into one
// preallocated message per call, base64 included.
import { z } from "zod";
import { CloseCode } from "../server/close-codes.ts";
import { base64Length, encodeBase64Into, NOT_FAST, scanMediaMessage } from "./media-fast-path.ts";
import {
  decodeMediaPayload,
  type Encoded,
  type InboundEvent,
  MAX_INBOUND_FRAME_BYTES,
  parseJsonText,
  type TransportCodec,
} from "./types.ts";

const Media = z.object({
  event: z.literal("media"),
  media: z.object({ track: z.string().optional(), payload: z.string() }),
});
const Start = z.object({
  event: z.literal("start"),
  streamSid: z.string().min(1).max(128).optional(),
  start: z.object({
    streamSid: z.string().min(1).max(128),
    callSid: z.string().max(128).optional(),
    customParameters: z.record(z.string(), z.string()).optional(),
    mediaFormat: z.object({ encoding: z.string(), sampleRate: z.number(), channels: z.number().optional() }).optional(),
  }),
});
const Mark = z.object({ event: z.literal("mark"), mark: z.object({ name: z.string().max(256) }) });
const Dtmf = z.object({ event: z.literal("dtmf"), dtmf: z.object({ digit: z.string().max(4) }) });
const Event = z.object({ event: z.string() });

/**
 * The strict reading of one Twilio message: JSON, then the schemas above. It decides what is invalid
 * and why; the codec's fast path only ever shortcuts messages this would accept as inbound media.
 */
export function parseTwilioMessage(message: ArrayBuffer, isBinary: boolean): InboundEvent {
  if (isBinary) return { type: "invalid", reason: "binary-frame" };
  const json = parseJsonText(message);
  const head = Event.safeParse(json);
  if (!head.success) return { type: "invalid", reason: "not-json-event" };
  switch (head.data.event) {
    case "media": {
      const m = Media.safeParse(json);
      if (!m.success) return { type: "invalid", reason: "bad-media" };
      // Bidirectional streams carry the caller only; anything else is not ours to hear.
      if (m.data.media.track !== undefined && m.data.media.track !== "inbound") {
        return { type: "invalid", reason: "foreign-track" };
      }
      const audio = decodeMediaPayload(m.data.media.payload);
      if (typeof audio === "string") return { type: "invalid", reason: audio };
      return { type: "media", audio };
    }
    case "connected":
      return { type: "connected" };
    case "start": {
      const s = Start.safeParse(json);
      if (!s.success) return { type: "invalid", reason: "bad-start" };
      const format = s.data.start.mediaFormat;
      if (format && (format.encoding !== "audio/x-mulaw" || format.sampleRate !== 8000)) {
        return {
          type: "fatal",
          code: CloseCode.unsupportedMedia,
          reason: `unsupported media format ${format.encoding}/${format.sampleRate}`,
        };
      }
      return {
        type: "start",
        token: s.data.start.customParameters?.token,
        streamId: s.data.start.streamSid,
        ...(s.data.start.callSid ? { callRef: s.data.start.callSid } : {}),
      };
    }
    case "mark": {
      const m = Mark.safeParse(json);
      return m.success ? { type: "mark", name: m.data.mark.name } : { type: "invalid", reason: "bad-mark" };
    }
    case "dtmf": {
      const d = Dtmf.safeParse(json);
      return d.success ? { type: "dtmf", digit: d.data.dtmf.digit } : { type: "invalid", reason: "bad-dtmf" };
    }
    case "stop":
      return { type: "stop" };
    default:
      return { type: "invalid", reason: "unknown-event" };
  }
}

const MEDIA_SUFFIX = Uint8Array.from('"}}', (c) => c.charCodeAt(0));

export class TwilioCodec implements TransportCodec {
  readonly kind = "twilio" as const;
  #streamSid = "";
  /** Inbound audio lands here; the media event's audio is a view of it (see InboundEvent). */
  readonly #frame = new Uint8Array(MAX_INBOUND_FRAME_BYTES);
  readonly #fullFrame = this.#frame.subarray(0);
  readonly #mediaEvent: { type: "media"; audio: Uint8Array } = { type: "media", audio: this.#fullFrame };
  /** `{"event":"media","streamSid":…,"media":{"payload":"` then room for one frame's base64 and `"}}`. */
  #out = new Uint8Array(0);
  #prefixLength = 0;

  constructor() {
    this.bindStream("");
  }

  decode(message: ArrayBuffer, isBinary: boolean, emit: (event: InboundEvent) => void): void {
    if (!isBinary) {
      const n = scanMediaMessage(new Uint8Array(message), this.#frame);
      if (n !== NOT_FAST) {
        // One event object per codec, like the buffer: consumers read it during the callback.
        const event = this.#mediaEvent;
        event.audio = n === this.#frame.length ? this.#fullFrame : this.#frame.subarray(0, n);
        emit(event);
        return;
      }
    }
    emit(parseTwilioMessage(message, isBinary));
  }

  bindStream(streamSid: string): void {
    this.#streamSid = streamSid;
    const prefix = Buffer.from(`{"event":"media","streamSid":${JSON.stringify(streamSid)},"media":{"payload":"`);
    this.#prefixLength = prefix.length;
    this.#out = new Uint8Array(prefix.length + base64Length(160) + MEDIA_SUFFIX.length);
    this.#out.set(prefix);
  }

  /** The message is a view of a buffer the next call overwrites: send it before encoding another. */
  encodeMedia(frame: Uint8Array): Encoded {
    const size = this.#prefixLength + base64Length(frame.length) + MEDIA_SUFFIX.length;
    if (size > this.#out.length) {
      const grown = new Uint8Array(size);
      grown.set(this.#out.subarray(0, this.#prefixLength));
      this.#out = grown;
    }
    const end = encodeBase64Into(frame, this.#out, this.#prefixLength) + MEDIA_SUFFIX.length;
    this.#out.set(MEDIA_SUFFIX, end - MEDIA_SUFFIX.length);
    const encoded = this.#encoded;
    if (encoded.data.length !== end || encoded.data.buffer !== this.#out.buffer)
      encoded.data = this.#out.subarray(0, end);
    return encoded;
  }

  /** The last media message, reused while its length (always 160-byte frames in practice) stays the same. */
  readonly #encoded: { data: Uint8Array; binary: false } = { data: new Uint8Array(0), binary: false };

  encodeMark(name: string): Encoded {
    return { data: JSON.stringify({ event: "mark", streamSid: this.#streamSid, mark: { name } }), binary: false };
  }

  encodeClear(): Encoded {
    return { data: JSON.stringify({ event: "clear", streamSid: this.#streamSid }), binary: false };
  }

  encodeNotice(): undefined {
    return undefined;
  }
}
