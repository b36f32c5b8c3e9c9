// Calls: the list (filters, paging) and a call's page (transcript with interruptions and what was heard, tools,
// each agent turn's waterfall; live updates through /v1/calls/{id}/live while it runs).
import type { Hono } from "hono";
import { html } from "hono/html";
import type { AppEnv } from "../../env.ts";
import type { ConsoleRequest } from "../context.ts";
import { notice } from "../layout.ts";
import type { SignedIn } from "../routes.ts";
import { type Latency, legend, segmentsOf, waterfallBar } from "./waterfall.ts";

type Call = {
  id: string;
  direction: string;
  from: string;
  to: string;
  status: string;
  region: string | null;
  agentId: string | null;
  createdAt: string;
  endedAt: string | null;
  endReason: string | null;
  durationMs: number | null;
};
type Turn = {
  id: string;
  turnIndex: number;
  speaker: "caller" | "agent";
  text: string;
  interrupted: boolean;
  latency: Latency | null;
  tools: { name: string; ok: boolean; ms: number }[];
  lines: { source: string; text: string }[];
  modelId: string | null;
};

const LIVE = new Set(["queued", "ringing", "in_progress"]);

function statusPill(status: string) {
  const kind = status === "completed" ? "ok" : LIVE.has(status) ? "live" : status === "failed" ? "bad" : "";
  return html`<span class="pill ${kind}" data-call-status>${status.replace("_", " ")}</span>`;
}

export function registerCallPages(app: Hono<AppEnv>, signedIn: SignedIn) {
  app.get(
    "/calls",
    signedIn((r) => listPage(r)),
  );
  app.get(
    "/calls/:callId",
    signedIn((r) => callPage(r, r.param("callId"))),
  );
}

async function listPage(r: ConsoleRequest) {
  const q = r.c.req.query();
  const filters = {
    status: q.status,
    direction: q.direction,
    from: q.from?.trim(),
    to: q.to?.trim(),
    createdAfter: q.since ? `${q.since}T00:00:00Z` : undefined,
  };
  const list = await r.api.get<{ data: Call[]; nextCursor: string | null }>("/v1/calls", {
    limit: "25",
    cursor: q.cursor,
    ...filters,
  });
  const opt = (v: string, current: string | undefined) =>
    html`<option value="${v}" ${v === (current ?? "") ? "selected" : ""}>${v ? v.replace("_", " ") : "any"}</option>`;
  const form = html`<form method="get" class="card row" action="/console/calls">
    <div><label for="f-status">Status</label><select id="f-status" name="status">${["", "in_progress", "completed", "failed", "ringing", "no_answer", "busy"].map((v) => opt(v, q.status))}</select></div>
    <div><label for="f-direction">Direction</label><select id="f-direction" name="direction">${["", "inbound", "outbound", "web"].map((v) => opt(v, q.direction))}</select></div>
    <div><label for="f-from">From</label><input id="f-from" name="from" type="text" placeholder="+1…" value="${q.from ?? ""}" /></div>
    <div><label for="f-since">Since</label><input id="f-since" name="since" type="date" value="${q.since ?? ""}" /></div>
    <div style="flex:0 0 auto"><button type="submit" class="secondary">Filter</button></div>
  </form>`;
  if (!list.ok) {
    if (list.status === 400)
      return r.render(
        "calls",
        "Calls",
        html`<h1>Calls</h1>${form}${notice("error", (list.problem.errors ?? []).map((e) => `${e.pointer.slice(1)}: ${e.detail}`).join("; ") || (list.problem.detail ?? ""))}`,
        { status: 400 },
      );
    return r.failure("calls", list);
  }
  const keep = new URLSearchParams(
    Object.entries({ status: q.status, direction: q.direction, from: q.from, since: q.since }).filter(
      (e): e is [string, string] => !!e[1],
    ),
  );
  const next = list.body.nextCursor ? `?${new URLSearchParams([...keep, ["cursor", list.body.nextCursor]])}` : "";
  return r.render(
    "calls",
    "Calls",
    html`<h1>Calls</h1>${form}
      <div class="card">
        ${
          list.body.data.length === 0
            ? html`<p>No calls match.</p>`
            : html`<table>
              <thead><tr><th>When</th><th>Status</th><th>From → to</th><th class="hide-narrow">Direction</th><th class="hide-narrow">Length</th></tr></thead>
              <tbody>${list.body.data.map(
                (x) => html`<tr data-call-id="${x.id}">
                  <td><a href="/console/calls/${x.id}">${x.createdAt.slice(0, 19).replace("T", " ")}</a></td>
                  <td>${statusPill(x.status)}</td>
                  <td>${x.from} → ${x.to}</td>
                  <td class="hide-narrow">${x.direction}</td>
                  <td class="hide-narrow">${x.durationMs !== null ? `${(x.durationMs / 1000).toFixed(1)} s` : "–"}</td>
                </tr>`,
              )}</tbody>
            </table>`
        }
        <div class="pager">${q.cursor ? html`<a href="/console/calls?${keep}">← First page</a>` : ""}${next ? html`<a href="/console/calls${next}">Next page →</a>` : ""}</div>
      </div>`,
  );
}

async function callPage(r: ConsoleRequest, id: string) {
  const call = await r.api.get<Call & { turns: Turn[] }>(`/v1/calls/${encodeURIComponent(id)}`);
  if (!call.ok) return r.failure("calls", call);
  const x = call.body;
  const scale = Math.max(
    1000,
    ...x.turns.map((t) => (t.latency ? Object.values(segmentsOf(t.latency)).reduce((a, b) => a + b, 0) : 0)),
  );
  const live = LIVE.has(x.status);
  return r.render(
    "calls",
    `Call ${x.id}`,
    html`<h1>Call ${statusPill(x.status)}</h1>
      <div class="card" data-live-call="${x.id}" data-live="${live ? "yes" : "no"}" data-scale="${scale}">
        <p>${x.from} → ${x.to} · ${x.direction}${x.region ? ` · ${x.region}` : ""} · started ${x.createdAt.slice(0, 19).replace("T", " ")}
          ${x.durationMs !== null ? ` · ${(x.durationMs / 1000).toFixed(1)} s` : ""}${x.endReason ? ` · ended: ${x.endReason}` : ""}</p>
        ${x.agentId ? html`<p class="muted">Agent <a href="/console/agents/${x.agentId}">${x.agentId}</a> · <span data-live-state>${live ? "live: updates as it happens" : ""}</span></p>` : ""}
      </div>
      <h2>Transcript</h2>
      ${legend()}
      <ul class="transcript" data-transcript>
        ${x.turns.map((t) => turnItem(t, scale))}
      </ul>
      ${x.turns.length === 0 ? html`<p class="muted" data-no-turns>No turns yet.</p>` : ""}
      <h2>Actions</h2>
      <ul data-actions class="muted"><li>Loading from the call's ledger…</li></ul>`,
    { script: true },
  );
}

function turnItem(t: Turn, scale: number) {
  return html`<li class="${t.speaker}${t.interrupted ? " interrupted" : ""}" data-turn="${t.turnIndex}-${t.speaker}">
    <div class="who">${t.speaker === "agent" ? "Agent" : "Caller"}${t.turnIndex === 0 ? " · greeting" : ""}</div>
    ${t.interrupted ? html`<div class="heard-mark">Interrupted: the caller heard only this much</div>` : ""}
    ${spoken(t)}
    ${t.tools.length > 0 ? html`<div class="muted">Tools: ${t.tools.map((tool) => `${tool.name} ${tool.ok ? "✓" : "✗"} ${Math.round(tool.ms)} ms`).join(", ")}</div>` : ""}
    ${t.speaker === "agent" && t.latency && t.turnIndex > 0 ? waterfallBar(t.latency, scale) : ""}
  </li>`;
}

/**
 * The agent's words, then the platform's own lines of the turn, each named (a filler, an apology…). When the model
 * gave no words, the turn's text is those lines, so they are shown once.
 */
function spoken(t: Turn) {
  const lines = t.lines ?? [];
  const onlyLines = lines.length > 0 && t.text === lines.map((l) => l.text).join(" ");
  const words = onlyLines ? "" : html`<div>${t.text || html`<span class="muted">(nothing was heard)</span>`}</div>`;
  return html`${words}${lines.map(
    (l) =>
      html`<div class="spoken-line" data-spoken-line="${l.source}"><span class="line-source">${LINE_LABELS[l.source] ?? l.source}</span> ${l.text}</div>`,
  )}`;
}

const LINE_LABELS: Record<string, string> = {
  acknowledgement: "Acknowledgement",
  filler: "Filler",
  apology: "Apology",
  goodbye: "Goodbye",
  bridge: "Bridge",
};
