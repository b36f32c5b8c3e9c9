// What `npm run call` prints when its calls are done: each call's outcome summed into percentiles, as a table
// (one call: its turns too) or as JSON.

import type { Plan } from "./call-plan.ts";
import type { CallReport } from "./caller.ts";

export type CallOutcome =
  | { ok: boolean; kind: "completed"; report: CallReport }
  | { ok: false; kind: "refused"; callSid: string; spoken: string[] }
  | { ok: false; kind: "failed"; error: string; code?: number };

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] ?? null;
}

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
}

export function summarize(outcomes: CallOutcome[], p: Plan) {
  const reports = outcomes.flatMap((o) => (o.kind === "completed" ? [o.report] : []));
  const turns = reports.flatMap((r) => r.turns);
  return {
    calls: outcomes.length,
    ok: outcomes.filter((o) => o.ok).length,
    failed: outcomes.filter((o) => !o.ok).length,
    refused: outcomes.filter((o) => o.kind === "refused").length,
    concurrency: p.concurrency,
    firstAgentAudioMs: stats(turns.flatMap((t) => (t.firstAgentAudioMs === null ? [] : [t.firstAgentAudioMs]))),
    agentAudioMs: stats(turns.flatMap((t) => (t.agentAudioMs > 0 && !t.interrupted ? [t.agentAudioMs] : []))),
    bargeInClearMs: stats(turns.flatMap((t) => (t.bargedIn && t.clearAfterMs !== null ? [t.clearAfterMs] : []))),
    bargeInsWithoutClear: turns.filter((t) => t.bargedIn && t.clearAfterMs === null).length,
    turnsWithoutReply: turns.filter((t) => t.timedOut).length,
    lateFrames: reports.reduce((a, r) => a + r.lateFrames, 0),
    /** Calls that followed the TwiML to a new stream mid-call (a resumed call). */
    movedCalls: reports.filter((r) => r.streams.length > 1).length,
  };
}

const ms = (v: number | null) => (v === null ? "–" : `${Math.round(v)} ms`);

export function printSummary(outcomes: CallOutcome[], p: Plan): void {
  const s = summarize(outcomes, p);
  const out: string[] = [];
  if (outcomes.length === 1) {
    const o = outcomes[0]!;
    if (o.kind === "completed") {
      const g = o.report.greeting;
      out.push(`call ${o.report.callSid}`);
      if (g)
        out.push(`  greeting        first audio ${ms(g.firstAgentAudioMs)} after answer, ${ms(g.agentAudioMs)} long`);
      o.report.turns.forEach((t, i) => {
        const said = (t.text ?? t.line).length > 60 ? `${(t.text ?? t.line).slice(0, 57)}…` : (t.text ?? t.line);
        const extra = t.bargedIn ? `, agent cleared after ${ms(t.clearAfterMs)}` : t.interrupted ? ", interrupted" : "";
        out.push(
          `  ${String(i + 1).padStart(2)}. "${said}"\n      first audio ${ms(t.firstAgentAudioMs)}, reply ${ms(t.agentAudioMs)}${extra}${t.timedOut ? ", NO REPLY" : ""}`,
        );
      });
      // The call was moved to another stream (its media node was lost and the platform resumed it elsewhere).
      for (const stream of o.report.streams.slice(1)) {
        out.push(`  ↪ stream ${stream.streamSid} from ${ms(stream.openedAt)} (${stream.url})`);
      }
    }
  }
  const failures = outcomes.flatMap((o) =>
    o.kind === "refused"
      ? [`refused: "${o.spoken.join(" ")}"`]
      : o.kind === "failed"
        ? [`failed${o.code ? ` (${o.code})` : ""}: ${o.error}`]
        : o.report.errors.map((e) => `${o.report.callSid}: ${e}`),
  );
  const unique = [...new Set(failures)];
  out.push(`calls           ${s.ok} ok, ${s.failed} failed (${s.calls} placed, ${s.concurrency} at a time)`);
  const row = (label: string, x: ReturnType<typeof stats>) =>
    `${label.padEnd(16)}p50 ${ms(x.p50)}  p95 ${ms(x.p95)}  p99 ${ms(x.p99)}  (n=${x.n})`;
  out.push(row("first audio", s.firstAgentAudioMs));
  out.push(row("reply length", s.agentAudioMs));
  if (s.bargeInClearMs.n > 0 || s.bargeInsWithoutClear > 0) {
    out.push(
      `${row("barge-in clear", s.bargeInClearMs)}${s.bargeInsWithoutClear ? `, ${s.bargeInsWithoutClear} never cleared` : ""}`,
    );
  }
  if (s.lateFrames > 0) out.push(`late frames     ${s.lateFrames} (this machine was too busy to keep 20 ms pace)`);
  for (const f of unique.slice(0, 10)) out.push(`  ${f}`);
  if (unique.length > 10) out.push(`  … and ${unique.length - 10} more`);
  process.stdout.write(`${out.join("\n")}\n`);
}
