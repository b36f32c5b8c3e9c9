// npm run fixtures: speaks the simulated caller's lines with espeak-ng into test/fixtures/speech/ as raw 8 kHz μ-law
// (one <name>.ulaw per line) plus index.json with each file's exact text, voice and duration.
// The default caller script is the Deepgram emulator's DEFAULT_CALLER_SCRIPT when that module exists, so every
// fixture the caller plays is a line the emulator "hears" as its own text.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  DEFAULT_VOICE,
  DEFAULT_WORDS_PER_MINUTE,
  SPEECH_FIXTURE_DIR,
  synthesizeSpeech,
} from "../emulators/twilio-caller/speech.ts";

const FALLBACK_SCRIPT = [
  "Hi, I'd like to book an appointment for next Tuesday.",
  "Can you tell me where my order 48213 is?",
  "What are your opening hours on Saturday?",
  "Uh-huh.",
  "Great, thank you, that's all I needed.",
];

// Lines beyond the default script: back-channels, a long barge-in, a parallel tool call and a thinking turn.
const EXTRA_LINES: { text: string; role: string; name?: string }[] = [
  { text: "Uh-huh.", role: "backchannel", name: "uh-huh" },
  { text: "Okay.", role: "backchannel", name: "okay" },
  {
    text: "Sorry, wait, actually I need to change the delivery address on that order to my office on Main Street instead.",
    role: "barge-in",
    name: "barge-in-change-address",
  },
  { text: "Where is my order 48213, and are you open on Saturday?", role: "parallel-tools", name: "order-and-hours" },
  {
    text: "Can you compare your two plans and tell me which is cheaper for me over a year?",
    role: "thinking",
    name: "compare-plans",
  },
];

const KNOWN_NAMES: Record<string, string> = {
  "Hi, I'd like to book an appointment for next Tuesday.": "book-appointment",
  "Can you tell me where my order 48213 is?": "order-status",
  "What are your opening hours on Saturday?": "opening-hours",
  "Great, thank you, that's all I needed.": "thanks-goodbye",
  "Could you send me a confirmation by text message?": "send-confirmation",
  "Yes, that works for me.": "that-works",
  "Uh-huh.": "uh-huh",
  "Okay.": "okay",
  "Um … let me think … Thursday would work.": "pause-thursday",
  "My order number is … four eight two one three.": "pause-order-number",
};

// Lines whose `…` is a real mid-sentence pause in the audio (MID_SENTENCE_PAUSE_MS of silence).
const pauses = (text: string): boolean => /…|\.\.\./.test(text);

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/['’]/g, "")
    .replace(/[^a-z0-9]+/g, " ")
    .trim()
    .split(" ")
    .slice(0, 6)
    .join("-");
}

async function defaultScript(): Promise<{ lines: string[]; source: string }> {
  const modulePath = "../emulators/deepgram/index.ts";
  try {
    const mod: Record<string, unknown> = await import(modulePath);
    const list = mod.DEFAULT_CALLER_SCRIPT;
    if (Array.isArray(list) && list.length > 0) {
      const lines = list.map((l: unknown) =>
        typeof l === "string" ? l : typeof l === "object" && l && "text" in l ? String(l.text) : "",
      );
      if (lines.every((l) => l.length > 0)) return { lines, source: "emulators/deepgram DEFAULT_CALLER_SCRIPT" };
    }
  } catch {
    // Not written yet: fall back to the agreed list.
  }
  return { lines: FALLBACK_SCRIPT, source: "built-in list" };
}

async function main(): Promise<void> {
  const { lines, source } = await defaultScript();
  const entries = new Map<string, { name: string; role: string }>();
  const extraRole = (text: string) => EXTRA_LINES.find((e) => e.text === text)?.role;
  for (const text of lines) {
    entries.set(text, {
      name: KNOWN_NAMES[text] ?? slug(text),
      role: extraRole(text) ?? (pauses(text) ? "mid-sentence-pause" : "script"),
    });
  }
  for (const extra of EXTRA_LINES) {
    if (!entries.has(extra.text)) entries.set(extra.text, { name: extra.name ?? slug(extra.text), role: extra.role });
  }
  const names = new Set<string>();
  for (const e of entries.values()) {
    if (names.has(e.name)) throw new Error(`two lines share the fixture name ${e.name}`);
    names.add(e.name);
  }

  mkdirSync(SPEECH_FIXTURE_DIR, { recursive: true });
  const fixtures = [];
  let total = 0;
  for (const [text, { name, role }] of entries) {
    const audio = await synthesizeSpeech(text);
    const file = `${name}.ulaw`;
    writeFileSync(path.join(SPEECH_FIXTURE_DIR, file), audio);
    total += audio.length;
    fixtures.push({
      name,
      file,
      text,
      voice: DEFAULT_VOICE,
      durationMs: audio.length / 8,
      bytes: audio.length,
      sha256: createHash("sha256").update(audio).digest("hex"),
      role,
    });
    process.stdout.write(`${file.padEnd(36)} ${(audio.length / 8000).toFixed(2)} s  ${text}\n`);
  }
  for (const f of readdirSync(SPEECH_FIXTURE_DIR)) {
    if (f.endsWith(".ulaw") && !fixtures.some((x) => x.file === f)) rmSync(path.join(SPEECH_FIXTURE_DIR, f));
  }
  const index = {
    format: { encoding: "mulaw", sampleRate: 8000, channels: 1 },
    generator: `espeak-ng -v ${DEFAULT_VOICE} -s ${DEFAULT_WORDS_PER_MINUTE}, resampled to 8 kHz, peak-normalised, silence-trimmed, G.711 μ-law, no header`,
    defaultScriptSource: source,
    defaultScript: lines.map((t) => entries.get(t)?.name ?? ""),
    fixtures,
  };
  writeFileSync(path.join(SPEECH_FIXTURE_DIR, "index.json"), `${JSON.stringify(index, null, 2)}\n`);
  process.stdout.write(
    `${fixtures.length} fixtures, ${(total / 1024).toFixed(0)} KiB, default script from ${source}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`make-fixtures: ${(err as Error).message}\n`);
  process.exit(1);
});
