// Consent records: list (with filters), record, revoke.
import type { Hono } from "hono";
import { html } from "hono/html";
import type { AppEnv } from "../../env.ts";
import { errorsByField } from "../api-client.ts";
import { ConsoleRequest } from "../context.ts";
import { csrfField, errorClass, type FieldErrors, fieldError, notice } from "../layout.ts";
import type { SignedIn } from "../routes.ts";

type Consent = {
  id: string;
  phoneNumber: string;
  type: string;
  verificationMethod: string;
  status: string;
  optedInAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
};
const field = ConsoleRequest.field;

export function registerConsentPages(app: Hono<AppEnv>, signedIn: SignedIn) {
  const listPage = async (
    r: ConsoleRequest,
    add?: { values: Record<string, string>; errors: FieldErrors; status: number },
  ) => {
    const q = r.c.req.query();
    const list = await r.api.get<{ data: Consent[]; nextCursor: string | null }>("/v1/consent", {
      limit: "50",
      cursor: q.cursor,
      phoneNumber: q.phoneNumber,
      type: q.type,
      status: q.status,
    });
    if (!list.ok) return r.failure("consent", list);
    const e = add?.errors;
    const opt = (v: string, current: string | undefined) =>
      html`<option value="${v}" ${v === current ? "selected" : ""}>${v || "any"}</option>`;
    return r.render(
      "consent",
      "Consent",
      html`<h1>Consent records</h1>
        ${notice("ok", q.ok)}
        <form method="get" class="card row">
          <div><label for="f-number">Number</label><input id="f-number" name="phoneNumber" type="text" value="${q.phoneNumber ?? ""}" /></div>
          <div><label for="f-type">Type</label><select id="f-type" name="type">${["", "marketing", "service", "emergency"].map((v) => opt(v, q.type))}</select></div>
          <div><label for="f-status">Status</label><select id="f-status" name="status">${["", "active", "pending", "revoked"].map((v) => opt(v, q.status))}</select></div>
          <div style="flex:0 0 auto"><button type="submit" class="secondary">Filter</button></div>
        </form>
        <div class="card">
          ${
            list.body.data.length === 0
              ? html`<p>No consent records.</p>`
              : html`<table>
                <thead><tr><th>Number</th><th>Type</th><th>Status</th><th class="hide-narrow">Opted in</th><th></th></tr></thead>
                <tbody>${list.body.data.map(
                  (x) => html`<tr>
                    <td>${x.phoneNumber}</td><td>${x.type} <span class="muted">(${x.verificationMethod})</span></td>
                    <td><span class="pill ${x.status === "active" ? "ok" : x.status === "revoked" ? "bad" : ""}">${x.status}</span></td>
                    <td class="hide-narrow">${x.optedInAt.slice(0, 10)}</td>
                    <td>${
                      x.status !== "revoked"
                        ? html`<form method="post" action="/console/consent/${x.id}/revoke" class="inline">${csrfField(r.csrf)}<button type="submit" class="secondary">Revoke</button></form>`
                        : ""
                    }</td>
                  </tr>`,
                )}</tbody>
              </table>`
          }
          ${list.body.nextCursor ? html`<div class="pager"><a href="?cursor=${list.body.nextCursor}">Next page →</a></div>` : ""}
        </div>
        <h2>Record consent</h2>
        <form method="post" action="/console/consent" class="card" novalidate>
          ${csrfField(r.csrf)}
          <div class="row">
            <div class="${errorClass(e, "phoneNumber")}"><label for="phoneNumber">Number (E.164)</label>
              <input id="phoneNumber" name="phoneNumber" type="text" value="${add?.values.phoneNumber ?? ""}" />${fieldError(e, "phoneNumber")}</div>
            <div class="${errorClass(e, "type")}"><label for="type">Type</label>
              <select id="type" name="type">${["service", "marketing", "emergency"].map((v) => opt(v, add?.values.type))}</select>${fieldError(e, "type")}</div>
            <div class="${errorClass(e, "verificationMethod")}"><label for="verificationMethod">How they agreed</label>
              <select id="verificationMethod" name="verificationMethod">${["checkbox", "voice", "sms"].map((v) => opt(v, add?.values.verificationMethod))}</select>${fieldError(e, "verificationMethod")}</div>
          </div>
          <p><button type="submit">Record consent</button></p>
        </form>`,
      { status: add?.status ?? 200 },
    );
  };

  app.get(
    "/consent",
    signedIn((r) => listPage(r)),
  );

  app.post(
    "/consent",
    signedIn(async (r) => {
      const form = await r.c.req.parseBody();
      const values = {
        phoneNumber: field(form, "phoneNumber").trim(),
        type: field(form, "type"),
        verificationMethod: field(form, "verificationMethod"),
      };
      const created = await r.api.send<Consent>("POST", "/v1/consent", values, field(form, "_csrf") || undefined);
      if (!created.ok) {
        if (created.status === 400) return listPage(r, { values, errors: errorsByField(created.problem), status: 400 });
        return r.failure("consent", created);
      }
      return r.redirect("/console/consent", `Recorded ${created.body.type} consent for ${created.body.phoneNumber}.`);
    }),
  );

  app.post(
    "/consent/:consentId/revoke",
    signedIn(async (r) => {
      const form = await r.c.req.parseBody();
      const id = r.param("consentId");
      const revoked = await r.api.send<Consent>(
        "POST",
        `/v1/consent/${encodeURIComponent(id)}/revoke`,
        undefined,
        field(form, "_csrf") || undefined,
      );
      if (!revoked.ok) return r.failure("consent", revoked);
      return r.redirect("/console/consent", `Revoked consent for ${revoked.body.phoneNumber}.`);
    }),
  );
}
