// Twilio media frames (50 a second per call) take a byte-level fast path instead of JSON.parse and zod.
// It must never change what a message means: every input decodes to the same event (the same audio,
// the same rejection reason, hence the same counters and 4400 close) as the strict parser, and outbound
// frames are the same JSON Twilio always got.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { mulawLevelDbfs } from "../../../media-nodes/src/pipeline/vad.ts";
import { parseTwilioMessage, TwilioCodec } from "../../../media-nodes/src/transports/twilio.ts";
import type { InboundEvent } from "../../../media-nodes/src/transports/types.ts";
import { mulawToPcm16, rmsDbfs } from "../../../shared/audio/mulaw.ts";

const bytesOf = (text: string): ArrayBuffer => {
  const b = Buffer.from(text, "utf8");
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
};

/** What the codec emits, copied out of its reused buffers, in a comparable form. */
function decoded(codec: TwilioCodec, message: ArrayBuffer, isBinary = false): unknown[] {
  const out: unknown[] = [];
  codec.decode(message, isBinary, (e: InboundEvent) =>
    out.push(e.type === "media" ? { type: "media", audio: [...e.audio] } : { ...e }),
  );
  return out;
}

function strict(message: ArrayBuffer, isBinary = false): unknown[] {
  const e = parseTwilioMessage(message, isBinary);
  return [e.type === "media" ? { type: "media", audio: [...e.audio] } : e];
}

function twilioMedia(payload: string, extra: { track?: string; sid?: string; seq?: number } = {}): string {
  const seq = extra.seq ?? 7;
  const track = extra.track === undefined ? "" : `"track":"${extra.track}",`;
  return `{"event":"media","sequenceNumber":"${seq}","media":{${track}"chunk":"${seq - 1}","timestamp":"${seq * 20}","payload":"${payload}"},"streamSid":"${extra.sid ?? "MZ0123456789abcdef0123456789abcdef"}"}`;
}

const frame = Uint8Array.from({ length: 160 }, (_, i) => (i * 37 + 11) & 0xff);
const b64 = Buffer.from(frame).toString("base64");

describe("inbound media", () => {
  test("a real Twilio media message yields the caller's exact bytes", () => {
    const codec = new TwilioCodec();
    expect(decoded(codec, bytesOf(twilioMedia(b64, { track: "inbound" })))).toEqual([
      { type: "media", audio: [...frame] },
    ]);
    // Field order, whitespace, an absent track and short frames are all still plain media.
    const short = (n: number) => Buffer.from(frame.subarray(0, n)).toString("base64");
    for (const text of [
      twilioMedia(b64),
      `{ "media" : { "payload" : "${b64}" , "track" : "inbound" } , "event" : "media" }`,
      `\n{"event":"media","media":{"payload":"${short(7)}"}}\r\n`,
      `{"event":"media","media":{"payload":"${short(8)}"}}`,
      `{"event":"media","media":{"payload":"${short(9)}"}}`,
    ]) {
      expect(decoded(codec, bytesOf(text))).toEqual(strict(bytesOf(text)));
      expect(decoded(codec, bytesOf(text))[0]).toMatchObject({ type: "media" });
    }
  });

  test("each kind of malformed media keeps its rejection reason", () => {
    const codec = new TwilioCodec();
    const cases: [string, string][] = [
      [`{"event":"media","media":{"payload":"%%%not base64%%%"}}`, "not-base64"],
      [`{"event":"media","media":{"payload":"${b64.slice(0, -1)}"}}`, "not-base64"],
      [`{"event":"media","media":{"payload":"${Buffer.alloc(800, 0x55).toString("base64")}"}}`, "oversized-frame"],
      [`{"event":"media","media":{"payload":"${Buffer.alloc(162, 0x55).toString("base64")}"}}`, "oversized-frame"],
      [`{"event":"media","media":{"payload":""}}`, "empty-payload"],
      [`{"event":"media","media":{"track":"outbound","payload":"${b64}"}}`, "foreign-track"],
      [`{"event":"media","media":{"payload":7}}`, "bad-media"],
      [`{"event":"media"}`, "bad-media"],
      [`{"event":"media","media":{"payload":"${b64}"}`, "not-json-event"],
      [`["media"]`, "not-json-event"],
      [`{"event":"mediaX","media":{"payload":"${b64}"}}`, "unknown-event"],
    ];
    for (const [text, reason] of cases) {
      expect(decoded(codec, bytesOf(text)), text).toEqual([{ type: "invalid", reason }]);
    }
    expect(decoded(codec, bytesOf(twilioMedia(b64)), true)).toEqual([{ type: "invalid", reason: "binary-frame" }]);
  });

  test("JSON the fast path does not recognise still means what JSON.parse says it means", () => {
    const codec = new TwilioCodec();
    // Escapes, duplicate keys, numbers and nesting are left to the strict path, which accepts or refuses them.
    for (const text of [
      `{"event":"media","media":{"payload":"${b64}","payload":"${Buffer.from(frame.subarray(3, 9)).toString("base64")}"}}`,
      `{"event":"med\\u0069a","media":{"payload":"${b64}"}}`,
      `{"event":"media","media":{"track":"in\\u0062ound","payload":"${b64}"}}`,
      `{"event":"media","sequenceNumber":5,"media":{"payload":"${b64}","chunk":{"n":1}}}`,
      `{"event":"media","event":"mark","media":{"payload":"${b64}"},"mark":{"name":"x"}}`,
    ]) {
      expect(decoded(codec, bytesOf(text)), text).toEqual(strict(bytesOf(text)));
    }
  });

  test("any corruption of a media message is read the same as the strict parser reads it", () => {
    const codec = new TwilioCodec();
    const base = Buffer.from(twilioMedia(b64, { track: "inbound" }));
    const edit = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant("cut" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 12 }) }),
      fc.record({
        kind: fc.constant("insert" as const),
        at: fc.nat(),
        text: fc.constantFrom(" ", "\\", '"', "=", "==", ",", "{", "}", ":", "\u0000", "é", '"x":"y",', "A"),
      }),
    );
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
        let bytes = Buffer.from(base);
        for (const e of edits) {
          const at = e.at % (bytes.length + 1);
          if (e.kind === "set" && at < bytes.length) bytes[at] = e.byte;
          else if (e.kind === "cut") bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + e.len)]);
          else if (e.kind === "insert")
            bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(e.text), bytes.subarray(at)]);
        }
        const message = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
        expect(decoded(codec, message)).toEqual(strict(message));
      }),
      { numRuns: 3_000 },
    );
  });
});

describe("outbound media", () => {
  test("each frame is the JSON Twilio expects, naming the stream, with the frame's base64", () => {
    const codec = new TwilioCodec();
    codec.bindStream("MZ0123456789abcdef0123456789abcdef");
    for (const length of [160, 1, 2, 3, 159, 161, 200, 160]) {
      const audio = Uint8Array.from({ length }, (_, i) => (i * 91 + length) & 0xff);
      const { data, binary } = codec.encodeMedia(audio);
      expect(binary).toBe(false);
      const text = typeof data === "string" ? data : Buffer.from(data).toString("utf8");
      expect(JSON.parse(text)).toEqual({
        event: "media",
        streamSid: "MZ0123456789abcdef0123456789abcdef",
        media: { payload: Buffer.from(audio).toString("base64") },
      });
    }
  });
});

test("the VAD's table-driven level is exactly the level of the decoded PCM", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 160 }), (frameBytes) => {
      expect(mulawLevelDbfs(frameBytes)).toBe(rmsDbfs(mulawToPcm16(frameBytes)));
    }),
    { numRuns: 2_000 },
  );
});
