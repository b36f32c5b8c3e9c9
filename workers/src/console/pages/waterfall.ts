// A turn's latency waterfall as a stacked bar: the caller stopped speaking → STT final → turn decided (model
// asked) → first token → first synthesized audio → first audio out. One scale per page, so bars compare.
// The browser client draws live turns with the same segments (console/client/live-call.ts).
import { html } from "hono/html";

export type Latency = {
  callerSpeechEndedAt: string | null;
  sttFinalAt: string | null;
  llmRequestAt?: string | null;
  llmFirstTokenAt: string | null;
  ttsFirstByteAt: string | null;
  firstAudioOutAt: string | null;
  firstAudioMs: number | null;
  platformOverheadMs: number | null;
};

export const SEGMENTS = [
  ["stt", "STT"],
  ["turn", "Turn detection"],
  ["llm", "LLM first token"],
  ["tts", "TTS first byte"],
  ["platform", "Platform → audio out"],
] as const;

/** Milliseconds per segment; a stage that did not happen (or was not measured) is 0. */
export function segmentsOf(l: Latency): Record<(typeof SEGMENTS)[number][0], number> {
  const t = (s: string | null | undefined) => (s ? Date.parse(s) : undefined);
  const span = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined && b >= a ? b - a : 0;
  const end = t(l.callerSpeechEndedAt);
  const stt = t(l.sttFinalAt);
  const req = t(l.llmRequestAt) ?? stt;
  const tok = t(l.llmFirstTokenAt);
  const tts = t(l.ttsFirstByteAt);
  const out = t(l.firstAudioOutAt);
  return {
    stt: span(end, stt),
    turn: span(stt, req),
    llm: span(req, tok),
    tts: span(tok, tts),
    platform: span(tts, out),
  };
}

export function legend() {
  return html`<div class="legend">${SEGMENTS.map(([k, label]) => html`<span><i class="w-${k}"></i>${label}</span>`)}</div>`;
}

export function waterfallBar(l: Latency, scaleMs: number) {
  const parts = segmentsOf(l);
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  const title = SEGMENTS.map(([k, label]) => `${label} ${Math.round(parts[k])} ms`).join(" · ");
  return html`<div class="waterfall-row" data-testid="waterfall">
    <div class="waterfall" role="img" aria-label="${title}" title="${title}" style="width:${Math.max(4, Math.min(100, (total / scaleMs) * 100)).toFixed(1)}%">
      ${SEGMENTS.map(([k]) => (parts[k] > 0 ? html`<span class="w-${k}" style="width:${((parts[k] / Math.max(1, total)) * 100).toFixed(2)}%"></span>` : ""))}
    </div>
    <div class="muted">${l.firstAudioMs !== null ? `${l.firstAudioMs} ms to first audio` : "not measured"} · ${SEGMENTS.map(([k, label]) => `${label.split(" ")[0]} ${Math.round(parts[k])}`).join(" · ")}${l.platformOverheadMs !== null ? ` · platform overhead ${l.platformOverheadMs} ms` : ""}</div>
  </div>`;
}
