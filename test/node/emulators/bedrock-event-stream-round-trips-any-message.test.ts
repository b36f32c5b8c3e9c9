// Properties over the Bedrock emulator's event-stream framing, read by the AWS SDK's own decoder (so the two are
// checked against each other, not against themselves): any headers and payload come back byte for byte, however
// the stream is cut into socket reads, and any single corrupted byte is caught by a CRC rather than misread.
import { EventStreamCodec, getChunkedStream } from "@smithy/core/event-streams";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeMessage } from "../../../emulators/bedrock/eventstream.ts";

const codec = () =>
  new EventStreamCodec(
    (bytes) => Buffer.from(bytes).toString("utf8"),
    (text) => new Uint8Array(Buffer.from(text, "utf8")),
  );

// "__proto__" is left out: the SDK collects headers into a plain object, where that name cannot be an own key.
const headerName = fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 40 }).filter((n) => n !== "__proto__");
const headers = fc.uniqueArray(fc.tuple(headerName, fc.string({ maxLength: 200 })), {
  selector: ([name]) => name,
  maxLength: 6,
});
const payload = fc.uint8Array({ maxLength: 4096 });

/** As a plain object: the SDK returns headers keyed by name (so integer-like names reorder; order is not checked). */
function asHeaders(decoded: Record<string, { type: string; value: unknown }>) {
  return Object.fromEntries(Object.entries(decoded).map(([name, h]) => [name, { type: h.type, value: h.value }]));
}

describe("the emulator's event-stream messages", () => {
  it("decode with the SDK to exactly the headers and payload encoded, however the stream is split", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(headers, payload), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 97 }),
        async (messages, cut) => {
          const wire = Buffer.concat(messages.map(([h, p]) => encodeMessage(h, p)));
          async function* reads() {
            for (let i = 0; i < wire.length; i += cut) yield new Uint8Array(wire.subarray(i, i + cut));
          }
          const c = codec();
          const decoded = [];
          for await (const message of getChunkedStream(reads())) decoded.push(c.decode(message));
          expect(decoded).toHaveLength(messages.length);
          decoded.forEach((message, i) => {
            const [h, p] = messages[i] ?? [[], new Uint8Array()];
            expect(asHeaders(message.headers)).toEqual(
              Object.fromEntries(h.map(([name, value]) => [name, { type: "string", value }])),
            );
            expect(Buffer.from(message.body).equals(Buffer.from(p))).toBe(true);
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it("never decode a corrupted byte into a message: the CRCs catch it", () => {
    fc.assert(
      fc.property(headers, payload, fc.nat(), fc.integer({ min: 1, max: 255 }), (h, p, position, flip) => {
        const wire = new Uint8Array(encodeMessage(h, p));
        const at = position % wire.length;
        wire[at] = (wire[at] ?? 0) ^ flip;
        expect(() => codec().decode(wire)).toThrow();
      }),
      { numRuns: 200 },
    );
  });
});
