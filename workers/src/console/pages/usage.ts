// Usage: calls, minutes and latency percentiles per day and per agent, from GET /v1/usage.
import type { Hono } from "hono";
import { html } from "hono/html";
import type { AppEnv } from "../../env.ts";
import { describe } from "../api-client.ts";
import { notice } from "../layout.ts";
import type { SignedIn } from "../routes.ts";
import { type Usage, usageCharts } from "./usage-charts.ts";

const DAY_MS = 86_400_000;

export function registerUsagePages(app: Hono<AppEnv>, signedIn: SignedIn) {
  app.get(
    "/usage",
    signedIn(async (r) => {
      const q = r.c.req.query();
      const to = /^\d{4}-\d{2}-\d{2}$/.test(q.to ?? "") ? (q.to as string) : new Date().toISOString().slice(0, 10);
      const from = /^\d{4}-\d{2}-\d{2}$/.test(q.from ?? "")
        ? (q.from as string)
        : new Date(Date.parse(to) - 13 * DAY_MS).toISOString().slice(0, 10);
      const [usage, agents] = await Promise.all([
        r.api.get<Usage>("/v1/usage", { from, to, agentId: q.agentId }),
        r.api.get<{ data: { id: string; name: string }[] }>("/v1/agents", { limit: "100" }),
      ]);
      const names = Object.fromEntries((agents.ok ? agents.body.data : []).map((a) => [a.id, a.name]));
      const form = html`<form method="get" class="card row" action="/console/usage">
        <div><label for="u-from">From</label><input id="u-from" name="from" type="date" value="${from}" /></div>
        <div><label for="u-to">To</label><input id="u-to" name="to" type="date" value="${to}" /></div>
        <div><label for="u-agent">Agent</label><select id="u-agent" name="agentId"><option value="">all agents</option>${Object.entries(names).map(([id, name]) => html`<option value="${id}" ${id === q.agentId ? "selected" : ""}>${name}</option>`)}</select></div>
        <div style="flex:0 0 auto"><button type="submit" class="secondary">Show</button></div>
      </form>`;
      if (!usage.ok) {
        if (usage.status === 401) return r.failure("usage", usage);
        return r.render(
          "usage",
          "Usage",
          html`<h1>Usage</h1>${form}${notice("error", `Usage is not available: ${describe(usage.problem)}`)}`,
          {
            status: usage.status,
          },
        );
      }
      return r.render("usage", "Usage", html`<h1>Usage</h1>${form}${usageCharts(usage.body, names)}`);
    }),
  );
}
