// Properties over the three media transports' parsers (Twilio, Telnyx, browser), run in every test run: whatever
// a peer sends, decoding never throws and yields only well-formed events (audio at most one 20 ms μ-law frame,
// refusals with a reason), and well-formed messages read back exactly what was put in them.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TelnyxCodec } from "../../../media-nodes/src/transports/telnyx.ts";
import { TwilioCodec } from "../../../media-nodes/src/transports/twilio.ts";
import type { InboundEvent, TransportCodec } from "../../../media-nodes/src/transports/types.ts";
import { WebCodec } from "../../../media-nodes/src/transports/web.ts";

const RUNS = { numRuns: 150 };
const CODECS: Record<string, () => TransportCodec> = {
  twilio: () => new TwilioCodec(),
  telnyx: () => new TelnyxCodec(),
  web: () => new WebCodec(),
};

const toBuffer = (bytes: Uint8Array): ArrayBuffer =>
  bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
const text = (value: unknown): ArrayBuffer => toBuffer(new TextEncoder().encode(JSON.stringify(value)));

/** Decodes and checks every event it yields; returns the events (audio copied, it may be a reused buffer). */
function decodeChecked(codec: TransportCodec, message: ArrayBuffer, isBinary: boolean): InboundEvent[] {
  const events: InboundEvent[] = [];
  codec.decode(message, isBinary, (event) => {
    switch (event.type) {
      case "media":
        expect(event.audio).toBeInstanceOf(Uint8Array);
        expect(event.audio.length).toBeGreaterThan(0);
        expect(event.audio.length).toBeLessThanOrEqual(160);
        events.push({ type: "media", audio: event.audio.slice() });
        return;
      case "invalid":
        expect(event.reason).toMatch(/^[a-z0-9-]+$/);
        break;
      case "fatal":
        expect(event.code).toBeGreaterThanOrEqual(4000);
        expect(event.reason.length).toBeGreaterThan(0);
        break;
      case "start":
        expect(typeof event.streamId).toBe("string");
        break;
      case "mark":
      case "dtmf":
      case "stop":
      case "connected":
        break;
      default:
        throw new Error(`unknown event ${JSON.stringify(event)}`);
    }
    events.push(event);
  });
  return events;
}

/** Messages shaped like each protocol's, with any values in them: what a buggy or hostile peer sends. */
const eventShaped = fc.oneof(
  fc.record(
    {
      event: fc.constantFrom("connected", "start", "media", "mark", "dtmf", "stop", "clear", ""),
      streamSid: fc.string(),
      stream_id: fc.string(),
      sequenceNumber: fc.oneof(fc.string(), fc.integer()),
      start: fc.anything(),
      media: fc.oneof(
        fc.anything(),
        fc.record({ track: fc.constantFrom("inbound", "outbound"), chunk: fc.string(), payload: fc.base64String() }),
      ),
      mark: fc.anything(),
      dtmf: fc.anything(),
    },
    { requiredKeys: ["event"] },
  ),
  fc.record(
    { type: fc.constantFrom("start", "mark", "dtmf", "stop", "x"), token: fc.anything(), name: fc.anything() },
    { requiredKeys: ["type"] },
  ),
);

describe.each(Object.keys(CODECS))("the %s transport", (name) => {
  const make = CODECS[name] as () => TransportCodec;

  it("never throws on any bytes, sent as text or binary, and yields only well-formed events", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.uint8Array({ maxLength: 1024 }), fc.boolean()), { maxLength: 8 }),
        (messages) => {
          const codec = make();
          for (const [bytes, isBinary] of messages) decodeChecked(codec, toBuffer(bytes), isBinary);
        },
      ),
      RUNS,
    );
  });

  it("never throws on any JSON, protocol-shaped or not", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.jsonValue(), eventShaped), { maxLength: 8 }), (messages) => {
        const codec = make();
        for (const message of messages) {
          // fc.anything() may hold values JSON cannot carry (undefined, bigint): those are not messages.
          let encoded: ArrayBuffer;
          try {
            encoded = text(message);
          } catch {
            continue;
          }
          decodeChecked(codec, encoded, false);
        }
      }),
      RUNS,
    );
  });
});

describe("well-formed messages read back what was put in them", () => {
  const frame = fc.uint8Array({ minLength: 1, maxLength: 160 });

  it("Twilio media: exactly the payload's bytes", () => {
    fc.assert(
      fc.property(frame, fc.nat(), (audio, sequence) => {
        const message = {
          event: "media",
          sequenceNumber: String(sequence),
          streamSid: "MZ00000000000000000000000000000000",
          media: {
            track: "inbound",
            chunk: String(sequence),
            timestamp: "0",
            payload: Buffer.from(audio).toString("base64"),
          },
        };
        expect(decodeChecked(new TwilioCodec(), text(message), false)).toEqual([{ type: "media", audio }]);
      }),
      RUNS,
    );
  });

  it("Telnyx media: exactly the payload's bytes", () => {
    fc.assert(
      fc.property(frame, fc.integer({ min: 1, max: 1_000_000 }), (audio, chunk) => {
        const message = {
          event: "media",
          sequence_number: String(chunk),
          stream_id: "stream-1",
          media: {
            track: "inbound",
            chunk: String(chunk),
            timestamp: "0",
            payload: Buffer.from(audio).toString("base64"),
          },
        };
        expect(decodeChecked(new TelnyxCodec(), text(message), false)).toEqual([{ type: "media", audio }]);
      }),
      RUNS,
    );
  });

  it("marks, DTMF and tokens on every transport: the same name, digit and token", () => {
    const name = fc.string({ minLength: 1, maxLength: 64 });
    const digit = fc.constantFrom(..."0123456789*#");
    fc.assert(
      fc.property(name, digit, fc.string({ minLength: 1, maxLength: 512 }), (markName, key, token) => {
        const twilio = new TwilioCodec();
        expect(
          decodeChecked(twilio, text({ event: "mark", streamSid: "MZ1", mark: { name: markName } }), false),
        ).toEqual([{ type: "mark", name: markName }]);
        expect(decodeChecked(twilio, text({ event: "dtmf", streamSid: "MZ1", dtmf: { digit: key } }), false)).toEqual([
          { type: "dtmf", digit: key },
        ]);
        const web = new WebCodec();
        expect(decodeChecked(web, text({ type: "mark", name: markName }), false)).toEqual([
          { type: "mark", name: markName },
        ]);
        expect(decodeChecked(web, text({ type: "start", token }), false)).toMatchObject([{ type: "start", token }]);
      }),
      RUNS,
    );
  });

  it("browser audio of any even length becomes whole 160-byte μ-law frames, none lost but the remainder", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 6 }), (sizes) => {
        const web = new WebCodec();
        let frames = 0;
        let samples8k = 0;
        for (const size of sizes) {
          const bytes = new Uint8Array(size * 2);
          for (const event of decodeChecked(web, toBuffer(bytes), true)) {
            expect(event.type).toBe("media");
            if (event.type === "media") expect(event.audio.length).toBe(160);
            frames++;
          }
          samples8k += size / 2;
        }
        // Resampling 16 → 8 kHz halves the samples (±1 per message for odd counts); all but the last partial frame go out.
        expect(frames * 160).toBeLessThanOrEqual(samples8k + sizes.length);
        expect(frames * 160).toBeGreaterThan(samples8k - sizes.length - 160);
      }),
      RUNS,
    );
  });
});
