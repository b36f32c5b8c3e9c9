// Real caller speech for STT tests: the espeak-ng fixtures in test/fixtures/speech, or, if a fixture is
// missing, the same text synthesized now (espeak-ng → sox → μ-law 8 kHz).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const DIR = join(import.meta.dirname, "../../../fixtures/speech");

export interface Utterance {
  name: string;
  text: string;
  /** μ-law 8 kHz mono, no header. */
  audio: Uint8Array;
}

interface Index {
  fixtures: { name: string; file: string; text: string }[];
}

const FALLBACK_TEXT: Record<string, string> = {
  "order-status": "Can you tell me where my order 48213 is?",
  "opening-hours": "What are your opening hours on Saturday?",
  "book-appointment": "Hi, I'd like to book an appointment for next Tuesday.",
};

function synthesize(text: string): Uint8Array {
  const wav = execFileSync("espeak-ng", ["-v", "en-us", "-s", "165", "--stdout", text]);
  const raw = execFileSync("sox", ["-t", "wav", "-", "-t", "raw", "-r", "8000", "-c", "1", "-e", "mu-law", "-"], {
    input: wav,
  });
  return new Uint8Array(raw);
}

export function loadUtterance(name: string): Utterance {
  const indexPath = join(DIR, "index.json");
  if (existsSync(indexPath)) {
    const index = JSON.parse(readFileSync(indexPath, "utf8")) as Index;
    const entry = index.fixtures.find((f) => f.name === name);
    if (entry && existsSync(join(DIR, entry.file))) {
      return { name, text: entry.text, audio: new Uint8Array(readFileSync(join(DIR, entry.file))) };
    }
  }
  const text = FALLBACK_TEXT[name];
  if (!text) throw new Error(`no speech fixture named ${name}`);
  return { name, text, audio: synthesize(text) };
}

/** μ-law silence (0xFF), `ms` long. */
export function silence(ms: number): Uint8Array {
  return new Uint8Array(Math.round(ms * 8)).fill(0xff);
}

/** Splits audio into 20 ms frames, as telephony delivers it. */
export function frames(audio: Uint8Array, frameBytes = 160): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < audio.length; i += frameBytes)
    out.push(audio.subarray(i, Math.min(audio.length, i + frameBytes)));
  return out;
}

/** Share of bytes that are not μ-law silence: speech-like audio is mostly non-silent. */
export function nonSilentShare(audio: Uint8Array): number {
  if (audio.length === 0) return 0;
  let n = 0;
  for (const b of audio) if (b !== 0xff && b !== 0x7f && b !== 0xfe && b !== 0x7e) n++;
  return n / audio.length;
}

/** Words of a transcript, lower-case, without punctuation, for comparing what was heard. */
export function wordsOf(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}' ]/gu, " ")
    .split(/\s+/)
    .filter((w) => w.length > 0);
}
