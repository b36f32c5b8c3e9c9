// Usage charts from GET /v1/usage (calls, minutes, latency percentiles per day and per agent), drawn as inline SVG
// on the server: no chart library, no script, nothing from another origin. Pure, so tests render it directly.
import { html } from "hono/html";

export type UsageDay = {
  date: string;
  agentId: string;
  calls: number;
  minutes: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  costUsd: number;
};
export type Usage = {
  from: string;
  to: string;
  days: UsageDay[];
  totals: { calls: number; minutes: number; costUsd: number };
};

const PALETTE = ["#2350c8", "#2fa7c6", "#9b59b6", "#e0a526", "#2fa76b", "#c8455a", "#7c8596"];
const W = 640;
const H = 200;
const PAD = { l: 44, r: 8, t: 10, b: 28 };

function datesBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (
    let d = Date.parse(`${from}T00:00:00Z`);
    d <= Date.parse(`${to}T00:00:00Z`) && out.length < 400;
    d += 86_400_000
  ) {
    out.push(new Date(d).toISOString().slice(0, 10));
  }
  return out;
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= v) ?? v;
}

function axes(max: number, dates: string[], unit: string) {
  const y = (v: number) => PAD.t + (H - PAD.t - PAD.b) * (1 - v / max);
  const step = Math.max(1, Math.ceil(dates.length / 7));
  const bw = (W - PAD.l - PAD.r) / Math.max(1, dates.length);
  return html`${[0, 0.5, 1].map(
    (f) => html`<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(max * f)}" y2="${y(max * f)}" stroke="#e3e6ee" />
      <text x="${PAD.l - 4}" y="${y(max * f) + 4}" font-size="10" text-anchor="end" fill="#5a6477">${Math.round(max * f * 10) / 10}${f === 1 ? ` ${unit}` : ""}</text>`,
  )}
  ${dates.map((d, i) => (i % step === 0 ? html`<text x="${PAD.l + bw * i + bw / 2}" y="${H - 10}" font-size="10" text-anchor="middle" fill="#5a6477">${d.slice(5)}</text>` : ""))}`;
}

/** Stacked bars per day, one colour per agent. */
function stackedBars(
  title: string,
  unit: string,
  dates: string[],
  agents: string[],
  value: (d: UsageDay) => number,
  days: UsageDay[],
) {
  const per = new Map<string, Map<string, number>>();
  for (const d of days) {
    const m = per.get(d.date) ?? new Map<string, number>();
    m.set(d.agentId, (m.get(d.agentId) ?? 0) + value(d));
    per.set(d.date, m);
  }
  const max = niceMax(Math.max(0, ...dates.map((d) => [...(per.get(d)?.values() ?? [])].reduce((a, b) => a + b, 0))));
  const bw = (W - PAD.l - PAD.r) / Math.max(1, dates.length);
  const scale = (H - PAD.t - PAD.b) / max;
  return html`<figure class="chart card" data-chart="${title}"><figcaption><strong>${title}</strong></figcaption>
    <svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${title} per day">
      ${axes(max, dates, unit)}
      ${dates.map((date, i) => {
        let y = H - PAD.b;
        return agents.map((agent, a) => {
          const v = per.get(date)?.get(agent) ?? 0;
          if (v <= 0) return "";
          const h = v * scale;
          y -= h;
          return html`<rect x="${PAD.l + bw * i + bw * 0.15}" y="${y}" width="${bw * 0.7}" height="${h}" fill="${PALETTE[a % PALETTE.length]}"><title>${date} ${agent}: ${Math.round(v * 10) / 10} ${unit}</title></rect>`;
        });
      })}
    </svg></figure>`;
}

/** p50 (solid) and p95 (dashed) lines per agent. */
function latencyLines(dates: string[], agents: string[], days: UsageDay[]) {
  const max = niceMax(Math.max(0, ...days.map((d) => d.latencyP95Ms ?? d.latencyP50Ms ?? 0)));
  const bw = (W - PAD.l - PAD.r) / Math.max(1, dates.length);
  const x = (i: number) => PAD.l + bw * i + bw / 2;
  const y = (v: number) => PAD.t + (H - PAD.t - PAD.b) * (1 - v / max);
  const line = (agent: string, pick: (d: UsageDay) => number | null) =>
    dates
      .map((date, i) => {
        const d = days.find((row) => row.date === date && row.agentId === agent);
        const v = d ? pick(d) : null;
        return v === null ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      })
      .filter((p): p is string => p !== null)
      .join(" ");
  return html`<figure class="chart card" data-chart="Latency"><figcaption><strong>Time to first agent audio</strong> <span class="muted">p50 solid, p95 dashed</span></figcaption>
    <svg viewBox="0 0 ${W} ${H}" role="img" aria-label="Latency percentiles per day">
      ${axes(max, dates, "ms")}
      ${agents.map(
        (
          agent,
          a,
        ) => html`<polyline points="${line(agent, (d) => d.latencyP50Ms)}" fill="none" stroke="${PALETTE[a % PALETTE.length]}" stroke-width="2" />
          <polyline points="${line(agent, (d) => d.latencyP95Ms)}" fill="none" stroke="${PALETTE[a % PALETTE.length]}" stroke-width="2" stroke-dasharray="5 4" />`,
      )}
    </svg></figure>`;
}

export function usageCharts(usage: Usage, agentNames: Record<string, string>) {
  const dates = datesBetween(usage.from, usage.to);
  const agents = [...new Set(usage.days.map((d) => d.agentId))];
  const name = (id: string) => agentNames[id] ?? id;
  const perAgent = agents.map((id) => {
    const rows = usage.days.filter((d) => d.agentId === id);
    return {
      id,
      calls: rows.reduce((a, d) => a + d.calls, 0),
      minutes: rows.reduce((a, d) => a + d.minutes, 0),
      cost: rows.reduce((a, d) => a + d.costUsd, 0),
    };
  });
  return html`<div class="row" style="align-items:stretch">
      <div class="card"><div class="muted">Calls</div><div style="font-size:1.6rem" data-total="calls">${usage.totals.calls}</div></div>
      <div class="card"><div class="muted">Minutes</div><div style="font-size:1.6rem" data-total="minutes">${Math.round(usage.totals.minutes * 10) / 10}</div></div>
      <div class="card"><div class="muted">Cost</div><div style="font-size:1.6rem" data-total="cost">$${usage.totals.costUsd.toFixed(2)}</div></div>
    </div>
    <div class="legend">${agents.map((id, a) => html`<span><i style="background:${PALETTE[a % PALETTE.length]}"></i>${name(id)}</span>`)}</div>
    ${stackedBars("Calls", "calls", dates, agents, (d) => d.calls, usage.days)}
    ${stackedBars("Minutes", "min", dates, agents, (d) => d.minutes, usage.days)}
    ${latencyLines(dates, agents, usage.days)}
    <div class="card"><table>
      <thead><tr><th>Agent</th><th>Calls</th><th>Minutes</th><th>Cost</th></tr></thead>
      <tbody>${perAgent.map((p) => html`<tr><td>${name(p.id)}</td><td>${p.calls}</td><td>${Math.round(p.minutes * 10) / 10}</td><td>$${p.cost.toFixed(2)}</td></tr>`)}</tbody>
    </table></div>`;
}
