// How a live call looks in the terminal: who said what, turn by turn, the tools each turn ran, and the turn's
// latency waterfall as one bar (50 ms per character, so bars compare across turns) with its parts in numbers.
import { z } from "zod";
import { SessionEventSchema, type TurnEvent, type TurnWaterfall } from "../../shared/session-events.ts";

/** What the edge's live feed sends (GET /v1/calls/{id}/live); validated, since it crosses a process boundary. */
export const LiveMessageSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("snapshot"),
    snapshot: z.looseObject({
      state: z.string(),
      leaseHeld: z.boolean(),
      pending: z.number(),
      record: z.looseObject({ callId: z.string(), region: z.string().nullable(), nodeId: z.string().nullable() }),
    }),
  }),
  z.object({ type: z.literal("state"), state: z.string(), at: z.number(), reason: z.string().optional() }),
  z.object({ type: z.literal("event"), event: SessionEventSchema }),
]);
export type LiveMessage = z.infer<typeof LiveMessageSchema>;

const MS_PER_CHAR = 50;
const MAX_BAR = 40;
const WRAP = 92;

export interface Style {
  dim(s: string): string;
  bold(s: string): string;
  stt(s: string): string;
  llm(s: string): string;
  tts(s: string): string;
  platform(s: string): string;
  ok(s: string): string;
  bad(s: string): string;
}

const ansi = (code: string) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;
export const colour: Style = {
  dim: ansi("2"),
  bold: ansi("1"),
  stt: ansi("36"),
  llm: ansi("35"),
  tts: ansi("33"),
  platform: ansi("90"),
  ok: ansi("32"),
  bad: ansi("31"),
};
const id = (s: string) => s;
export const plain: Style = { dim: id, bold: id, stt: id, llm: id, tts: id, platform: id, ok: id, bad: id };

export function styleFor(stream: NodeJS.WriteStream): Style {
  return stream.isTTY && !process.env.NO_COLOR ? colour : plain;
}

const ms = (v: number | undefined) => (v === undefined ? "–" : `${Math.round(v)}`);

/** `▕██▓▓▓▒░▏` STT, LLM, TTS and platform share, then the numbers. */
export function waterfallLine(w: TurnWaterfall, style: Style): string {
  const parts = [
    { v: w.sttMs, ch: "█", paint: style.stt },
    { v: w.llmFirstTokenMs, ch: "▓", paint: style.llm },
    { v: w.ttsFirstByteMs, ch: "▒", paint: style.tts },
    { v: w.platformOverheadMs, ch: "░", paint: style.platform },
  ];
  const total = parts.reduce((a, p) => a + (p.v ?? 0), 0);
  let budget = Math.min(MAX_BAR, Math.max(1, Math.round(total / MS_PER_CHAR)));
  const bar = parts
    .map((p) => {
      if (!p.v || budget <= 0) return "";
      const n = Math.min(budget, Math.max(1, Math.round(p.v / MS_PER_CHAR)));
      budget -= n;
      return p.paint(p.ch.repeat(n));
    })
    .join("");
  const numbers = [
    style.stt(`stt ${ms(w.sttMs)}`),
    style.llm(`llm ${ms(w.llmFirstTokenMs)}`),
    style.tts(`tts ${ms(w.ttsFirstByteMs)}`),
    style.platform(`platform ${ms(w.platformOverheadMs)}`),
  ].join(style.dim(" · "));
  const first = w.firstAudioMs !== undefined ? `${Math.round(w.firstAudioMs)} ms to first audio` : "no audio measured";
  const source =
    w.firstAudioSource && w.firstAudioSource !== "speech" ? style.dim(` (${w.firstAudioSource} first)`) : "";
  return `${first}${source}  ▕${bar}▏ ${numbers}`;
}

function wrap(text: string, indent: string): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > WRAP - indent.length) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out.map((l, i) => (i === 0 ? l : `${indent}${l}`));
}

export function formatTurn(turn: TurnEvent, style: Style): string[] {
  const lines: string[] = [];
  const pad = "           ";
  if (turn.userText.trim()) lines.push(`  ${style.bold("caller")} › ${wrap(turn.userText, pad).join("\n")}`);
  const said = turn.assistantText.trim() || style.dim("(nothing)");
  const cut = turn.interrupted ? style.dim(" [interrupted]") : "";
  lines.push(`  ${style.bold("agent ")} › ${wrap(said, pad).join("\n")}${cut}`);
  if (turn.tools.length > 0) {
    const tools = turn.tools.map((t) => `${t.name} ${t.ok ? style.ok("✓") : style.bad("✗")} ${Math.round(t.ms)} ms`);
    lines.push(`${pad}${style.dim("tools")} ${tools.join(", ")}`);
  }
  if (turn.index > 0 || turn.waterfall.firstAudioMs !== undefined)
    lines.push(`${pad}${waterfallLine(turn.waterfall, style)}`);
  return lines;
}

/** Lines for one live message; empty for messages the demo does not show. */
export function formatLive(message: LiveMessage, style: Style): string[] {
  if (message.type === "snapshot") {
    const r = message.snapshot.record;
    return [
      style.dim(`  call ${r.callId} ${message.snapshot.state}${r.nodeId ? ` on ${r.nodeId} (${r.region})` : ""}`),
    ];
  }
  if (message.type === "state") {
    return [style.dim(`  · ${message.state}${message.reason ? ` (${message.reason})` : ""}`)];
  }
  const event = message.event;
  switch (event.type) {
    case "call.started":
      return [style.dim(`  · media stream up on ${event.nodeId} (${event.region}, ${event.transport})`)];
    case "turn":
      return formatTurn(event, style);
    case "action":
      return [style.dim(`  · agent action: ${event.action.type}`)];
    case "call.ended":
      return [
        style.dim(`  · call ended: ${event.reason}, ${(event.durationMs / 1000).toFixed(1)} s, ${event.turns} turns`),
      ];
    case "turn.caller-final":
    case "turn.agent-heard":
      // Checkpoints: the turn's own event prints the whole turn a moment later.
      return [];
  }
}
