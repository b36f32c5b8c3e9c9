// Browser calls over WebSocket: a small JSON + binary protocol (docs/media-node.md, "Browser protocol").
//
//   client → server   text  {"type":"start","token":"…"}            first message, once
//                     binary PCM16 little-endian mono 16 kHz          any even length up to 1 s; 20 ms = 640 bytes
//                     text  {"type":"mark","name":"…"}              echo a mark once the audio before it played
//                     text  {"type":"dtmf","digit":"5"} / {"type":"stop"}
//   server → client   text  {"type":"ready","callId":"…","sampleRate":16000}
//                     binary PCM16 LE mono 16 kHz, 640-byte (20 ms) frames
//                     text  {"type":"mark","name":"…"} / {"type":"clear"} (drop queued audio now)
//                     text  {"type":"transcript","role":"user"|"assistant","text":"…"} / {"type":"end","reason":"…"}
//
// The pipeline runs on μ-law 8 kHz like telephony; this codec resamples at the edge of the call.
import { z } from "zod";
import { MULAW_FRAME_BYTES, mulawToPcm16, pcm16ToMulaw, resamplePcm16 } from "../../../shared/audio/mulaw.ts";
import { type Encoded, type InboundEvent, parseJsonText, type TransportCodec, type WebNotice } from "./types.ts";

export const WEB_SAMPLE_RATE = 16_000;
const MAX_BINARY_BYTES = WEB_SAMPLE_RATE * 2; // 1 s

const ClientMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("start"), token: z.string().min(1).max(4096) }),
  z.object({ type: z.literal("mark"), name: z.string().max(256) }),
  z.object({ type: z.literal("dtmf"), digit: z.string().max(4) }),
  z.object({ type: z.literal("stop") }),
]);

export class WebCodec implements TransportCodec {
  readonly kind = "web" as const;
  /** μ-law bytes waiting to complete a 160-byte frame. */
  #pending = new Uint8Array(0);
  #streamCounter = 0;

  decode(message: ArrayBuffer, isBinary: boolean, emit: (event: InboundEvent) => void): void {
    if (isBinary) {
      if (message.byteLength === 0 || message.byteLength % 2 !== 0) {
        emit({ type: "invalid", reason: "odd-pcm" });
        return;
      }
      if (message.byteLength > MAX_BINARY_BYTES) {
        emit({ type: "invalid", reason: "oversized-frame" });
        return;
      }
      // Copy: the ArrayBuffer is only valid during the callback, and Int16Array needs alignment.
      const pcm16k = new Int16Array(message.slice(0));
      const mulaw = pcm16ToMulaw(resamplePcm16(pcm16k, WEB_SAMPLE_RATE, 8_000));
      const joined = new Uint8Array(this.#pending.length + mulaw.length);
      joined.set(this.#pending);
      joined.set(mulaw, this.#pending.length);
      let at = 0;
      for (; at + MULAW_FRAME_BYTES <= joined.length; at += MULAW_FRAME_BYTES) {
        emit({ type: "media", audio: joined.subarray(at, at + MULAW_FRAME_BYTES) });
      }
      this.#pending = joined.slice(at);
      return;
    }
    const parsed = ClientMessage.safeParse(parseJsonText(message));
    if (!parsed.success) {
      emit({ type: "invalid", reason: "bad-web-message" });
      return;
    }
    const m = parsed.data;
    if (m.type === "start") emit({ type: "start", token: m.token, streamId: `web-${++this.#streamCounter}` });
    else emit(m);
  }

  bindStream(): void {}

  encodeMedia(frame: Uint8Array): Encoded {
    const pcm = resamplePcm16(mulawToPcm16(frame), 8_000, WEB_SAMPLE_RATE);
    return { data: new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength), binary: true };
  }

  encodeMark(name: string): Encoded {
    return { data: JSON.stringify({ type: "mark", name }), binary: false };
  }

  encodeClear(): Encoded {
    return { data: '{"type":"clear"}', binary: false };
  }

  encodeNotice(notice: WebNotice): Encoded {
    return { data: JSON.stringify(notice), binary: false };
  }
}
