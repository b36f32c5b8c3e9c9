import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_CALLER_SCRIPT } from "../../../emulators/deepgram/index.ts";
import { loadFixture, loadFixtureIndex, SPEECH_FIXTURE_DIR } from "../../../emulators/twilio-caller/speech.ts";
import { isVoiced } from "./support/fake-media-node.ts";

const index = loadFixtureIndex();

describe("speech fixtures", () => {
  it("speak the Deepgram emulator's default caller script, line for line, in order", () => {
    const texts = index.defaultScript.map((name) => index.fixtures.find((f) => f.name === name)?.text);
    expect(texts).toEqual([...DEFAULT_CALLER_SCRIPT]);
  });

  it("include back-channels, a long barge-in line, a parallel-tool question and a thinking question", () => {
    const roles = new Set(index.fixtures.map((f) => f.role));
    for (const role of ["backchannel", "barge-in", "parallel-tools", "thinking"]) expect(roles).toContain(role);
    const texts = index.fixtures.map((f) => f.text);
    expect(texts).toContain("Uh-huh.");
    expect(texts).toContain("Okay.");
    const bargeIn = index.fixtures.find((f) => f.role === "barge-in");
    expect(bargeIn?.durationMs).toBeGreaterThan(3000);
  });

  it("are the files the index describes: 8 kHz μ-law whose length, duration and hash match, under 1 MB in all", () => {
    let total = 0;
    for (const f of index.fixtures) {
      const bytes = readFileSync(path.join(SPEECH_FIXTURE_DIR, f.file));
      total += statSync(path.join(SPEECH_FIXTURE_DIR, f.file)).size;
      expect(bytes.length).toBe(f.bytes);
      expect(f.durationMs).toBe(bytes.length / 8);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(f.sha256);
      // Speech from the first frame to the last: end of audio is end of speech.
      expect(isVoiced(bytes.subarray(0, 160))).toBe(true);
      expect(isVoiced(bytes.subarray(bytes.length - 80))).toBe(true);
      // A plausible speaking rate (0.15-0.7 s per word) shows the text and the audio belong together.
      const words = f.text.split(/\s+/).length + (f.text.match(/\d/g)?.length ?? 0);
      expect(f.durationMs / words).toBeGreaterThan(120);
      expect(f.durationMs / words).toBeLessThan(700);
    }
    expect(total).toBeLessThan(1024 * 1024);
  });

  it("load by name or by exact text, and name the choices for an unknown one", () => {
    const byName = loadFixture("opening-hours");
    expect(loadFixture("What are your opening hours on Saturday?")).toEqual(byName);
    expect(() => loadFixture("no-such-line")).toThrow(/no speech fixture "no-such-line" \(have: .*opening-hours/);
  });
});
