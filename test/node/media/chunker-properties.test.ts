import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ClauseChunker } from "../../../media-nodes/src/pipeline/chunker.ts";

const squash = (s: string) => s.replace(/\s+/g, "");

const word = fc.stringMatching(/^[A-Za-z]{1,8}$/);
const number = fc.oneof(
  fc.integer({ min: 0, max: 99_999 }).map((n) => n.toLocaleString("en-US")),
  fc.tuple(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 9 })).map(([a, b]) => `${a}.${b}`),
);
const token = fc.oneof(
  { weight: 6, arbitrary: word },
  { weight: 1, arbitrary: number },
  { weight: 1, arbitrary: fc.constantFrom("Dr.", "e.g.", "U.S.", "10:30") },
);
const clause = fc.array(token, { minLength: 1, maxLength: 10 }).map((ws) => ws.join(" "));
// A sentence ends on an ordinary word: "…with Dr." is genuinely ambiguous and rightly not split early.
const lastWord = fc.constantFrom("today", "please", "order", "Friday", "thanks", "42");
const sentence = fc
  .tuple(fc.array(clause, { minLength: 1, maxLength: 3 }), lastWord, fc.constantFrom(".", "!", "?"))
  .map(([cs, last, end]) => `${cs.join(", ")} ${last}${end}`);
const reply = fc.array(sentence, { minLength: 1, maxLength: 5 }).map((ss) => ss.join(" "));

/** Splits text into arbitrary stream deltas (tokens don't respect word boundaries). */
function splitAt(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const parts: string[] = [];
  let last = 0;
  for (const p of points) {
    parts.push(text.slice(last, p));
    last = p;
  }
  parts.push(text.slice(last));
  return parts;
}

describe("ClauseChunker properties", () => {
  it("loses and invents nothing: the pieces rebuild the reply (whitespace aside)", () => {
    fc.assert(
      fc.property(reply, fc.array(fc.nat(), { maxLength: 40 }), (text, cuts) => {
        const c = new ClauseChunker();
        const pieces = splitAt(text, cuts).flatMap((d) => c.push(d));
        pieces.push(...c.flush());
        expect(squash(pieces.join(""))).toBe(squash(text));
        for (const p of pieces) expect(p).toBe(p.trim());
      }),
      { numRuns: 300 },
    );
  });

  it("hands out the first sentence once the character after it arrives", () => {
    fc.assert(
      fc.property(sentence, reply, (first, rest) => {
        const text = `${first} ${rest}`;
        const c = new ClauseChunker();
        const firstSentenceEnd = first.length + 1; // through the space after it
        let emittedAt = -1;
        let firstPiece = "";
        for (let i = 0; i < text.length && emittedAt < 0; i++) {
          const pieces = c.push(text[i]!);
          if (pieces.length > 0) {
            emittedAt = i + 1;
            firstPiece = pieces[0]!;
          }
        }
        expect(emittedAt).toBeGreaterThan(0);
        expect(emittedAt).toBeLessThanOrEqual(firstSentenceEnd);
        // What is spoken first is the start of the first sentence (a clause of it, or all of it).
        expect(first.startsWith(firstPiece)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
