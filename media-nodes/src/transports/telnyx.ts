// Telnyx media streaming (bidirectional, RTP mode, PCMU). Like Twilio with snake_case fields, a
// `stream_id`, an `error` event, and no ordering guarantee on media frames. See protocols.md §2.1.
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
  sequence_number: z.string().optional(),
  media: z.object({ track: z.string().optional(), chunk: z.string().optional(), payload: z.string() }),
});
const Start = z.object({
  event: z.literal("start"),
  stream_id: z.string().min(1).max(128),
  start: z.object({
    call_control_id: z.string().max(256).optional(),
    client_state: z.string().max(4096).optional(),
    custom_parameters: z.record(z.string(), z.string()).optional(),
    media_format: z
      .object({ encoding: z.string(), sample_rate: z.number(), channels: z.number().optional() })
      .optional(),
  }),
});
const Mark = z.object({ event: z.literal("mark"), mark: z.object({ name: z.string().max(256) }) });
const Dtmf = z.object({ event: z.literal("dtmf"), dtmf: z.object({ digit: z.string().max(4) }) });
const Event = z.object({ event: z.string() });

/** Frames may arrive out of order; hold a few to put them back in order, never more. */
const REORDER_DEPTH = 3;

/** The token: a `token` custom parameter, else the call's client_state (base64 of the token or of {"token"}). */
function tokenFrom(start: z.infer<typeof Start>["start"]): string | undefined {
  const param = start.custom_parameters?.token;
  if (param) return param;
  if (!start.client_state) return undefined;
  const decoded = Buffer.from(start.client_state, "base64").toString("utf8");
  try {
    const parsed = z.object({ token: z.string() }).safeParse(JSON.parse(decoded));
    if (parsed.success) return parsed.data.token;
  } catch {}
  return decoded;
}

export class TelnyxCodec implements TransportCodec {
  readonly kind = "telnyx" as const;
  #streamId = "";
  #expected: number | undefined;
  readonly #held = new Map<number, Uint8Array>();

  decode(message: ArrayBuffer, isBinary: boolean, emit: (event: InboundEvent) => void): void {
    const event = this.#parse(message, isBinary);
    if (event.type === "media" && "chunk" in event && event.chunk !== undefined) {
      this.#reorder(event.chunk, event.audio, emit);
    } else if (event.type === "media") emit({ type: "media", audio: event.audio });
    else emit(event);
  }

  #parse(message: ArrayBuffer, isBinary: boolean): InboundEvent | { type: "media"; audio: Uint8Array; chunk?: number } {
    if (isBinary) return { type: "invalid", reason: "binary-frame" };
    const json = parseJsonText(message);
    const head = Event.safeParse(json);
    if (!head.success) return { type: "invalid", reason: "not-json-event" };
    switch (head.data.event) {
      case "media": {
        const m = Media.safeParse(json);
        if (!m.success) return { type: "invalid", reason: "bad-media" };
        if (m.data.media.track !== undefined && m.data.media.track !== "inbound") {
          return { type: "invalid", reason: "foreign-track" };
        }
        const audio = decodeMediaPayload(m.data.media.payload);
        if (typeof audio === "string") return { type: "invalid", reason: audio };
        const chunk = Number(m.data.media.chunk);
        return Number.isSafeInteger(chunk) ? { type: "media", audio, chunk } : { type: "media", audio };
      }
      case "connected":
        return { type: "connected" };
      case "start": {
        const s = Start.safeParse(json);
        if (!s.success) return { type: "invalid", reason: "bad-start" };
        const format = s.data.start.media_format;
        if (format && (format.encoding !== "PCMU" || format.sample_rate !== 8000)) {
          return {
            type: "fatal",
            code: CloseCode.unsupportedMedia,
            reason: `unsupported media format ${format.encoding}/${format.sample_rate}; use PCMU 8000`,
          };
        }
        return {
          type: "start",
          token: tokenFrom(s.data.start),
          streamId: s.data.stream_id,
          ...(s.data.start.call_control_id ? { callRef: s.data.start.call_control_id } : {}),
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
      case "error":
        return { type: "invalid", reason: "carrier-error" };
      default:
        return { type: "invalid", reason: "unknown-event" };
    }
  }

  #reorder(chunk: number, audio: Uint8Array, emit: (event: InboundEvent) => void): void {
    if (this.#expected === undefined) this.#expected = chunk;
    if (chunk < this.#expected) {
      emit({ type: "invalid", reason: "late-frame" });
      return;
    }
    this.#held.set(chunk, audio);
    // Release in order; if a frame is missing and the hold is full, give up on it and move on.
    for (;;) {
      const next = this.#held.get(this.#expected);
      if (next) {
        this.#held.delete(this.#expected);
        this.#expected += 1;
        emit({ type: "media", audio: next });
      } else if (this.#held.size > REORDER_DEPTH) {
        this.#expected = Math.min(...this.#held.keys());
      } else {
        return;
      }
    }
  }

  bindStream(streamId: string): void {
    this.#streamId = streamId;
  }

  encodeMedia(frame: Uint8Array): Encoded {
    return { data: `{"event":"media","media":{"payload":"${toBase64(frame)}"}}`, binary: false };
  }

  encodeMark(name: string): Encoded {
    return { data: JSON.stringify({ event: "mark", stream_id: this.#streamId, mark: { name } }), binary: false };
  }

  encodeClear(): Encoded {
    return { data: JSON.stringify({ event: "clear", stream_id: this.#streamId }), binary: false };
  }

  encodeNotice(): undefined {
    return undefined;
  }
}
