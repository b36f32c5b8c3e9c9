import { describe, expect, it } from "vitest";
import { ClauseChunker } from "../../../media-nodes/src/pipeline/chunker.ts";

/** Feeds text as a model would stream it (word-sized tokens with their leading space) and collects pieces. */
function chunkStream(text: string, chunker = new ClauseChunker()): string[] {
  const out: string[] = [];
  for (const token of text.match(/\s*\S+/g) ?? []) out.push(...chunker.push(token));
  out.push(...chunker.flush());
  return out;
}

describe("ClauseChunker", () => {
  it.each([
    ["Sure. Your order shipped yesterday.", ["Sure.", "Your order shipped yesterday."]],
    ["Is that right? Great!", ["Is that right?", "Great!"]],
    [
      "Your order shipped yesterday, and it should arrive on Friday.",
      ["Your order shipped yesterday,", "and it should arrive on Friday."],
    ],
    // Too short to stand alone: "Well," stays with what follows.
    ["Well, let me see what I can do.", ["Well, let me see what I can do."]],
    [
      "We are open until nine tonight; weekends we close at five.",
      ["We are open until nine tonight;", "weekends we close at five."],
    ],
    ["Here is the plan for today: we call, then we email.", ["Here is the plan for today:", "we call, then we email."]],
    [
      "Your balance is now paid in full — thank you so much.",
      ["Your balance is now paid in full —", "thank you so much."],
    ],
  ])("splits %j at sentence and clause ends", (text, expected) => {
    expect(chunkStream(text)).toEqual(expected);
  });

  it.each([
    ["The total comes to 48,213 dollars and ten cents.", ["The total comes to 48,213 dollars and ten cents."]],
    ["The rate is 3.5 percent this month.", ["The rate is 3.5 percent this month."]],
    [
      "Your appointment is at 10:30 with Dr. Patel tomorrow.",
      ["Your appointment is at 10:30 with Dr. Patel tomorrow."],
    ],
    ["Bring an ID, e.g. a passport or license.", ["Bring an ID, e.g. a passport or license."]],
    ["We ship within the U.S. and Canada only.", ["We ship within the U.S. and Canada only."]],
    ["It costs $1,299.99 plus tax.", ["It costs $1,299.99 plus tax."]],
    ["Call us at 3 p.m. tomorrow please.", ["Call us at 3 p.m. tomorrow please."]],
    ["Visit example.com for details.", ["Visit example.com for details."]],
  ])("never splits numbers or abbreviations in %j", (text, expected) => {
    expect(chunkStream(text)).toEqual(expected);
  });

  it("speaks a sentence as soon as the next token shows it ended", () => {
    const c = new ClauseChunker();
    expect(c.push("Sure")).toEqual([]);
    // "3." could still become "3.5": the period alone is not yet a sentence end.
    expect(c.push(".")).toEqual([]);
    expect(c.push(" Let")).toEqual(["Sure."]);
    expect(c.push(" me check")).toEqual([]);
    expect(c.flush()).toEqual(["Let me check"]);
  });

  it("cuts a long run without punctuation so speech doesn't wait for it", () => {
    const words = Array.from({ length: 45 }, (_, i) => `word${i}`).join(" ");
    const pieces = chunkStream(words, new ClauseChunker({ maxWords: 20 }));
    expect(pieces.length).toBeGreaterThanOrEqual(2);
    expect(pieces[0]!.split(" ")).toHaveLength(20);
    expect(pieces.join(" ")).toBe(words);
  });

  it("forgets buffered text on reset (barge-in)", () => {
    const c = new ClauseChunker();
    c.push("I was about to say");
    c.reset();
    expect(c.push("New reply. ")).toEqual(["New reply."]);
    expect(c.flush()).toEqual([]);
  });
});
