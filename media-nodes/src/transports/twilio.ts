// Twilio Media Streams, bidirectional (<Connect><Stream>). JSON text frames with an `event`
// discriminator; audio is base64 μ-law 8 kHz, 160 bytes per 20 ms. See protocols.md §1.
import { z } from "zod";
import { CloseCode } from "../server/close-codes.ts";
import {
  decodeMediaPayload,
  type Encoded,
  type InboundEvent,
  parseJsonText,
  type TransportCodec,
  toBase64,
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

export class TwilioCodec implements TransportCodec {
  readonly kind = "twilio" as const;
  #streamSid = "";
  #mediaPrefix = '{"event":"media","streamSid":"","media":{"payload":"';

  decode(message: ArrayBuffer, isBinary: boolean, emit: (event: InboundEvent) => void): void {
    emit(this.#parse(message, isBinary));
  }

  #parse(message: ArrayBuffer, isBinary: boolean): InboundEvent {
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

  bindStream(streamSid: string): void {
    this.#streamSid = streamSid;
    this.#mediaPrefix = `{"event":"media","streamSid":${JSON.stringify(streamSid)},"media":{"payload":"`;
  }

  encodeMedia(frame: Uint8Array): Encoded {
    // String concatenation, not JSON.stringify: this runs for every frame of every call.
    return { data: `${this.#mediaPrefix}${toBase64(frame)}"}}`, binary: false };
  }

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
