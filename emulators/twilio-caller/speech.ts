// Caller speech: the committed fixtures (test/fixtures/speech, made by `npm run fixtures`) and on-the-fly synthesis
// with espeak-ng for lines that have no fixture. Everything ends as raw 8 kHz μ-law, the way a phone call carries it.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { FRAME_BYTES, mulawRms, parsePcm16Wav, pcm16ToMulaw, resample, SAMPLE_RATE } from "./audio.ts";

export const SPEECH_FIXTURE_DIR = fileURLToPath(new URL("../../test/fixtures/speech/", import.meta.url));
export const DEFAULT_VOICE = "en-us";
/** espeak-ng words per minute: a relaxed phone pace. */
export const DEFAULT_WORDS_PER_MINUTE = 165;

const fixtureSchema = z.object({
  name: z.string().min(1),
  file: z.string().min(1),
  text: z.string().min(1),
  voice: z.string(),
  durationMs: z.number().nonnegative(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().optional(),
  role: z.string().optional(),
});
export type SpeechFixture = z.infer<typeof fixtureSchema>;

const indexSchema = z.object({
  format: z.object({ encoding: z.literal("mulaw"), sampleRate: z.literal(8000), channels: z.literal(1) }),
  generator: z.string().optional(),
  defaultScript: z.array(z.string()),
  fixtures: z.array(fixtureSchema),
});
export type SpeechFixtureIndex = z.infer<typeof indexSchema>;

const indexCache = new Map<string, SpeechFixtureIndex>();

export function loadFixtureIndex(dir: string = SPEECH_FIXTURE_DIR): SpeechFixtureIndex {
  const cached = indexCache.get(dir);
  if (cached) return cached;
  const file = path.join(dir, "index.json");
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch {
    throw new Error(`no speech fixtures at ${file}; run npm run fixtures`);
  }
  const parsed = indexSchema.safeParse(JSON.parse(raw));
  if (!parsed.success) throw new Error(`${file} is malformed: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  indexCache.set(dir, parsed.data);
  return parsed.data;
}

/** The fixture with this name, or whose text is exactly this line (case and surrounding spaces ignored). */
export function findFixture(nameOrText: string, dir: string = SPEECH_FIXTURE_DIR): SpeechFixture | undefined {
  let index: SpeechFixtureIndex;
  try {
    index = loadFixtureIndex(dir);
  } catch {
    return undefined;
  }
  const wanted = nameOrText.trim().toLowerCase();
  return (
    index.fixtures.find((f) => f.name === nameOrText) ?? index.fixtures.find((f) => f.text.toLowerCase() === wanted)
  );
}

/** Raw 8 kHz μ-law audio of a committed fixture, by name (e.g. "opening-hours") or by its exact text. */
export function loadFixture(nameOrText: string, dir: string = SPEECH_FIXTURE_DIR): Uint8Array {
  const fixture = findFixture(nameOrText, dir);
  if (!fixture) {
    const names = (() => {
      try {
        return loadFixtureIndex(dir)
          .fixtures.map((f) => f.name)
          .join(", ");
      } catch (err) {
        return (err as Error).message;
      }
    })();
    throw new Error(`no speech fixture "${nameOrText}" (have: ${names})`);
  }
  return new Uint8Array(readFileSync(path.join(dir, fixture.file)));
}

export interface SynthesisOptions {
  voice?: string;
  wordsPerMinute?: number;
}

/**
 * How long a caller pauses where a line says `…` ("um … let me think … Thursday would work"): longer than any
 * recogniser's endpointing, shorter than Flux's end-of-turn timeout, as a caller thinking mid-sentence does.
 */
export const MID_SENTENCE_PAUSE_MS = 600;
const PAUSE_MARK = /\s*(?:…|\.\.\.)\s*/;

/**
 * Speaks `text` with espeak-ng and returns trimmed, level-normalised 8 kHz μ-law. Each `…` in the line is a real
 * pause of MID_SENTENCE_PAUSE_MS of silence between the parts, each part spoken on its own.
 */
export async function synthesizeSpeech(text: string, options: SynthesisOptions = {}): Promise<Uint8Array> {
  const parts = text
    .split(PAUSE_MARK)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (parts.length <= 1) return synthesizeOne(parts[0] ?? text, options);
  const gap = new Uint8Array((MID_SENTENCE_PAUSE_MS * SAMPLE_RATE) / 1000).fill(0xff);
  const pieces: Uint8Array[] = [];
  for (const [i, part] of parts.entries()) {
    if (i > 0) pieces.push(gap);
    pieces.push(await synthesizeOne(part, options));
  }
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function synthesizeOne(text: string, options: SynthesisOptions): Promise<Uint8Array> {
  const voice = options.voice ?? DEFAULT_VOICE;
  const wpm = options.wordsPerMinute ?? DEFAULT_WORDS_PER_MINUTE;
  const wav = await new Promise<Uint8Array>((resolve, reject) => {
    // The text goes on stdin so no line can be mistaken for an espeak-ng option.
    const child = spawn("espeak-ng", ["-v", voice, "-s", String(wpm), "--stdout"], { stdio: ["pipe", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.on("error", (err: NodeJS.ErrnoException) => {
      reject(
        new Error(
          err.code === "ENOENT"
            ? "espeak-ng is not installed (apt-get install espeak-ng); it speaks lines that have no fixture"
            : `espeak-ng failed: ${err.message}`,
        ),
      );
    });
    child.on("close", (code) => {
      if (code === 0) resolve(new Uint8Array(Buffer.concat(chunks)));
      else reject(new Error(`espeak-ng exited with ${code}: ${stderr.trim()}`));
    });
    child.stdin.end(text);
  });
  const { sampleRate, samples } = parsePcm16Wav(wav);
  const narrow = resample(samples, sampleRate, SAMPLE_RATE);
  // Phone speech sits around -3 dBFS peak after the carrier's AGC; normalise so every fixture has the same level.
  let peak = 0;
  for (const v of narrow) peak = Math.max(peak, Math.abs(v));
  const gain = peak > 0 ? (0.7 * 32767) / peak : 1;
  for (let i = 0; i < narrow.length; i++) narrow[i] = (narrow[i] ?? 0) * gain;
  return trimSilence(pcm16ToMulaw(narrow));
}

/**
 * Cuts leading and trailing near-silence (10 ms windows under `threshold` RMS) so "end of speech" is the end of the
 * voice, not of espeak-ng's padding.
 */
export function trimSilence(audio: Uint8Array, threshold = 300): Uint8Array {
  const win = FRAME_BYTES / 2;
  let first = -1;
  let last = -1;
  for (let i = 0; i + win <= audio.length; i += win) {
    if (mulawRms(audio, i, i + win) > threshold) {
      if (first < 0) first = i;
      last = i + win;
    }
  }
  if (first < 0) return audio.subarray(0, 0);
  return audio.slice(first, last);
}

/** A fixture's audio when one matches the line (by name or exact text), else espeak-ng speaks it. */
export async function speechFor(
  line: string,
  options: SynthesisOptions & { fixturesDir?: string } = {},
): Promise<{ audio: Uint8Array; text: string; fixture: string | null }> {
  const fixture = findFixture(line, options.fixturesDir);
  if (fixture)
    return { audio: loadFixture(fixture.name, options.fixturesDir), text: fixture.text, fixture: fixture.name };
  return { audio: await synthesizeSpeech(line, options), text: line, fixture: null };
}
