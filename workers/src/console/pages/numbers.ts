// Phone numbers: add, attach an agent, detach.
import type { Hono } from "hono";
import { html } from "hono/html";
import type { AppEnv } from "../../env.ts";
import { errorsByField } from "../api-client.ts";
import { ConsoleRequest } from "../context.ts";
import { csrfField, errorClass, type FieldErrors, fieldError, notice } from "../layout.ts";
import type { SignedIn } from "../routes.ts";

type PhoneNumber = { id: string; e164: string; provider: string; agentId: string | null; createdAt: string };
type AgentItem = { id: string; name: string; publishedVersion: number | null };
type Page<T> = { data: T[]; nextCursor: string | null };
const field = ConsoleRequest.field;

export function registerNumberPages(app: Hono<AppEnv>, signedIn: SignedIn) {
  const listPage = async (
    r: ConsoleRequest,
    add?: { values: Record<string, string>; errors: FieldErrors; status: number },
  ) => {
    const [numbers, agents] = await Promise.all([
      r.api.get<Page<PhoneNumber>>("/v1/phone-numbers", { limit: "100" }),
      r.api.get<Page<AgentItem>>("/v1/agents", { limit: "100" }),
    ]);
    if (!numbers.ok) return r.failure("numbers", numbers);
    const agentList = agents.ok ? agents.body.data : [];
    const nameOf = (id: string | null) => agentList.find((a) => a.id === id)?.name ?? id ?? "";
    const options = (selected: string | null) =>
      agentList.map((a) => html`<option value="${a.id}" ${a.id === selected ? "selected" : ""}>${a.name}</option>`);
    const e = add?.errors;
    return r.render(
      "numbers",
      "Phone numbers",
      html`<h1>Phone numbers</h1>
        ${notice("ok", r.c.req.query("ok"))}
        <div class="card">
          ${
            numbers.body.data.length === 0
              ? html`<p>No numbers yet.</p>`
              : html`<table>
                <thead><tr><th>Number</th><th>Carrier</th><th>Answered by</th><th></th></tr></thead>
                <tbody>
                  ${numbers.body.data.map(
                    (n) => html`<tr data-number="${n.e164}">
                      <td>${n.e164}</td><td>${n.provider}</td>
                      <td>${n.agentId ? html`<a href="/console/agents/${n.agentId}">${nameOf(n.agentId)}</a>` : html`<span class="muted">nobody (callers hear "not in service")</span>`}</td>
                      <td>
                        <form method="post" action="/console/numbers/${n.id}" class="row" style="gap:.3rem">
                          ${csrfField(r.csrf)}
                          <select name="agentId" aria-label="Agent for ${n.e164}">${options(n.agentId)}</select>
                          <button type="submit" class="secondary" style="flex:0 0 auto">Attach</button>
                        </form>
                        ${
                          n.agentId
                            ? html`<form method="post" action="/console/numbers/${n.id}" class="inline">
                              ${csrfField(r.csrf)}<input type="hidden" name="agentId" value="" />
                              <button type="submit" class="secondary">Detach</button>
                            </form>`
                            : ""
                        }
                      </td>
                    </tr>`,
                  )}
                </tbody>
              </table>`
          }
        </div>
        <h2>Add a number</h2>
        <form method="post" action="/console/numbers" class="card" novalidate>
          ${csrfField(r.csrf)} ${e?.form ? notice("error", e.form.join("; ")) : ""}
          <div class="row">
            <div class="${errorClass(e, "e164")}"><label for="e164">Number (E.164)</label>
              <input id="e164" name="e164" type="text" placeholder="+14155550100" value="${add?.values.e164 ?? ""}" />${fieldError(e, "e164")}</div>
            <div class="${errorClass(e, "provider")}"><label for="provider">Carrier</label>
              <select id="provider" name="provider"><option value="twilio">Twilio</option><option value="telnyx" ${add?.values.provider === "telnyx" ? "selected" : ""}>Telnyx</option></select>${fieldError(e, "provider")}</div>
            <div class="${errorClass(e, "agentId")}"><label for="agentId">Answered by</label>
              <select id="agentId" name="agentId"><option value="">nobody yet</option>${options(add?.values.agentId ?? null)}</select>${fieldError(e, "agentId")}</div>
          </div>
          <p><button type="submit">Add number</button></p>
        </form>`,
      { status: add?.status ?? 200 },
    );
  };

  app.get(
    "/numbers",
    signedIn((r) => listPage(r)),
  );

  app.post(
    "/numbers",
    signedIn(async (r) => {
      const form = await r.c.req.parseBody();
      const values = {
        e164: field(form, "e164").trim(),
        provider: field(form, "provider"),
        agentId: field(form, "agentId"),
      };
      const created = await r.api.send<PhoneNumber>(
        "POST",
        "/v1/phone-numbers",
        { e164: values.e164, provider: values.provider, agentId: values.agentId || null },
        field(form, "_csrf") || undefined,
      );
      if (!created.ok) {
        if (created.status === 400) return listPage(r, { values, errors: errorsByField(created.problem), status: 400 });
        if (created.status === 409)
          return listPage(r, { values, errors: { e164: [created.problem.detail ?? "Taken."] }, status: 409 });
        return r.failure("numbers", created);
      }
      return r.redirect("/console/numbers", `Added ${created.body.e164}.`);
    }),
  );

  app.post(
    "/numbers/:numberId",
    signedIn(async (r) => {
      const id = r.param("numberId");
      const form = await r.c.req.parseBody();
      const agentId = field(form, "agentId") || null;
      const updated = await r.api.send<PhoneNumber>(
        "PATCH",
        `/v1/phone-numbers/${encodeURIComponent(id)}`,
        { agentId },
        field(form, "_csrf") || undefined,
      );
      if (!updated.ok) return r.failure("numbers", updated);
      return r.redirect(
        "/console/numbers",
        agentId ? `${updated.body.e164} is attached.` : `${updated.body.e164} is detached.`,
      );
    }),
  );
}
