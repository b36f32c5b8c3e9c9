// Speech for the TTS side: espeak-ng when installed, otherwise a deterministic formant-like voice. Results are
// cached (LRU by bytes) so repeated prompts cost nothing under load.
import { spawn, spawnSync } from "node:child_process";
import { encodePcm, type OutputEncoding, parseWavHeader, resample } from "./audio.ts";
import { syllables } from "./script.ts";

export type VoiceEngine = "espeak-ng" | "synthetic";

interface Voice {
  /** espeak-ng voice with variant, e.g. "en-us+f3". */
  espeak: string;
  /** espeak-ng pitch 0-99; also the synthetic voice's base pitch. */
  pitch: number;
}

const FEMALE = ["f1", "f2", "f3", "f4", "f5"];
const MALE = ["m1", "m2", "m3", "m4", "m5", "m6", "m7"];
// Aura voices with a known gender; others get one from a hash of their name so each still sounds distinct.
const FEMALE_NAMES = new Set([
  "thalia",
  "andromeda",
  "helena",
  "asteria",
  "athena",
  "luna",
  "stella",
  "hera",
  "amalthea",
  "aurora",
  "callista",
  "cora",
  "cordelia",
  "delia",
  "electra",
  "harmonia",
  "iris",
  "juno",
  "minerva",
  "celeste",
  "estrella",
  "viktoria",
  "rhea",
  "agathe",
  "livia",
  "izanami",
]);
const ESPEAK_LANG: Record<string, string> = {
  en: "en-us",
  es: "es",
  de: "de",
  fr: "fr-fr",
  nl: "nl",
  it: "it",
  ja: "ja",
};

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

export function voiceForModel(model: string): Voice {
  const m = /^aura-(?:2-)?([a-z]+)-([a-z]{2})$/.exec(model);
  const name = m?.[1] ?? "asteria";
  const lang = ESPEAK_LANG[m?.[2] ?? "en"] ?? "en-us";
  const h = hash(name);
  const female = FEMALE_NAMES.has(name);
  const variants = female ? FEMALE : MALE;
  const variant = variants[h % variants.length] ?? "m1";
  const pitch = (female ? 55 : 30) + (h % 20);
  return { espeak: `${lang}+${variant}`, pitch };
}

let espeakChecked: boolean | undefined;
export function espeakAvailable(): boolean {
  if (espeakChecked === undefined) {
    const r = spawnSync("espeak-ng", ["--version"], { stdio: "ignore" });
    espeakChecked = r.status === 0;
  }
  return espeakChecked;
}

const ESPEAK_RATE = 22050;
const ESPEAK_WPM = 170;
const MAX_ESPEAK_PROCESSES = 2;

function runEspeak(text: string, voice: Voice, speed: number): Promise<Int16Array> {
  return new Promise((resolve, reject) => {
    const args = ["--stdout", "--stdin", "-v", voice.espeak, "-s", String(Math.round(ESPEAK_WPM * speed))];
    args.push("-p", String(voice.pitch));
    const child = spawn("espeak-ng", args, { stdio: ["pipe", "pipe", "ignore"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.on("error", reject);
    child.on("close", (code) => {
      const wav = Buffer.concat(chunks);
      const info = parseWavHeader(wav);
      if (code !== 0 || info === null || info === "incomplete") {
        reject(new Error(`espeak-ng failed (exit ${code})`));
        return;
      }
      const body = wav.subarray(info.dataOffset, info.dataOffset + Math.floor((wav.length - info.dataOffset) / 2) * 2);
      const pcm = new Int16Array(body.length / 2);
      for (let i = 0; i < pcm.length; i++) pcm[i] = body.readInt16LE(i * 2);
      resolve(pcm);
    });
    child.stdin.on("error", () => {});
    child.stdin.end(text);
  });
}

// Rough vowel formants (F1, F2) so different syllables differ audibly in the synthetic voice.
const FORMANTS: Record<string, [number, number]> = {
  a: [730, 1090],
  e: [530, 1840],
  i: [300, 2200],
  o: [570, 840],
  u: [320, 900],
  y: [300, 2100],
};

function rng(seed: number): () => number {
  let s = seed || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Deterministic stand-in voice: one harmonic-rich, formant-shaped tone per syllable, pauses at punctuation. */
export function syntheticSpeech(text: string, voice: Voice, speed: number, sampleRate: number): Int16Array {
  const f0Base = 80 + voice.pitch * 2;
  const rand = rng(hash(text) ^ hash(voice.espeak));
  const out: number[] = [];
  const silence = (s: number) => {
    for (let i = 0; i < Math.round(s * sampleRate); i++) out.push(0);
  };
  silence(0.05);
  for (const raw of text.split(/\s+/).filter((w) => w.length > 0)) {
    const vowels = raw.toLowerCase().match(/[aeiouy]+/g) ?? ["a"];
    const count = /\d/.test(raw) ? raw.replace(/\D/g, "").length * 2 : syllables(raw);
    for (let s = 0; s < count; s++) {
      const v = vowels[s % vowels.length]?.[0] ?? "a";
      const [f1, f2] = FORMANTS[v] ?? [700, 1200];
      const dur = (0.17 + rand() * 0.05) / speed;
      const n = Math.round(dur * sampleRate);
      const f0 = f0Base * (1 + (rand() - 0.5) * 0.1);
      const burst = Math.round(0.02 * sampleRate);
      for (let i = 0; i < burst; i++) out.push((rand() - 0.5) * 2500);
      for (let i = 0; i < n; i++) {
        const t = i / sampleRate;
        const env = Math.min(1, i / (0.02 * sampleRate), (n - i) / (0.04 * sampleRate));
        let x = 0;
        for (let k = 1; k * f0 < Math.min(3400, sampleRate / 2 - 200); k++) {
          const f = k * f0;
          const g = 1 / (1 + ((f - f1) / 90) ** 2) + 0.6 / (1 + ((f - f2) / 120) ** 2) + 0.02;
          x += g * Math.sin(2 * Math.PI * f * t);
        }
        out.push(x * env * 6000);
      }
    }
    silence(/[,;:.?!]$/.test(raw) ? 0.25 / speed : 0.05 / speed);
  }
  silence(0.1);
  return Int16Array.from(out, (x) => Math.max(-32768, Math.min(32767, Math.round(x))));
}

export interface SynthesizerOptions {
  engine?: VoiceEngine | "auto";
  cacheBytes?: number;
}

/** Turns text into encoded audio (raw, no container) for a voice model, with an LRU cache and bounded espeak-ng processes. */
export class Synthesizer {
  readonly engine: VoiceEngine;
  private readonly cache = new Map<string, Buffer>();
  private readonly inflight = new Map<string, Promise<Buffer>>();
  private cachedBytes = 0;
  private readonly cacheLimit: number;
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(opts: SynthesizerOptions = {}) {
    const wanted = opts.engine ?? "auto";
    this.engine = wanted === "auto" ? (espeakAvailable() ? "espeak-ng" : "synthetic") : wanted;
    this.cacheLimit = opts.cacheBytes ?? 64 * 1024 * 1024;
  }

  synthesize(text: string, model: string, encoding: OutputEncoding, sampleRate: number, speed = 1): Promise<Buffer> {
    const clean = text.replace(/\p{Cc}+/gu, " ").trim();
    if (clean.length === 0) return Promise.resolve(Buffer.alloc(0));
    const key = `${model}|${encoding}|${sampleRate}|${speed}|${clean}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return Promise.resolve(hit);
    }
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const job = this.render(clean, model, encoding, sampleRate, speed).then(
      (audio) => {
        this.inflight.delete(key);
        this.remember(key, audio);
        return audio;
      },
      (err: unknown) => {
        this.inflight.delete(key);
        throw err;
      },
    );
    this.inflight.set(key, job);
    return job;
  }

  private async render(
    text: string,
    model: string,
    encoding: OutputEncoding,
    sampleRate: number,
    speed: number,
  ): Promise<Buffer> {
    const voice = voiceForModel(model);
    if (this.engine === "synthetic") return encodePcm(syntheticSpeech(text, voice, speed, sampleRate), encoding);
    await this.acquire();
    try {
      const pcm = await runEspeak(text, voice, speed);
      return encodePcm(resample(pcm, ESPEAK_RATE, sampleRate), encoding);
    } catch {
      // Speech of the right length beats silence or an error when espeak-ng chokes on some input.
      return encodePcm(syntheticSpeech(text, voice, speed, sampleRate), encoding);
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.running < MAX_ESPEAK_PROCESSES) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }

  private remember(key: string, audio: Buffer): void {
    if (audio.length > this.cacheLimit / 4) return;
    this.cache.set(key, audio);
    this.cachedBytes += audio.length;
    for (const [k, v] of this.cache) {
      if (this.cachedBytes <= this.cacheLimit) break;
      this.cache.delete(k);
      this.cachedBytes -= v.length;
    }
  }
}
