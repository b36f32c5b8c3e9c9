// API keys (create: the secret is shown once; revoke) and publishable keys for browser calls from a tenant's site.
import type { Hono } from "hono";
import { html } from "hono/html";
import type { AppEnv } from "../../env.ts";
import { SCOPES } from "../../lib/scopes.ts";
import { errorsByField } from "../api-client.ts";
import { ConsoleRequest } from "../context.ts";
import { csrfField, errorClass, type FieldErrors, fieldError, type Html, notice } from "../layout.ts";
import type { SignedIn } from "../routes.ts";

type ApiKey = {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  lastUsedAt: string | null;
  revokedAt: string | null;
  createdAt: string;
};
type PublishableKey = { id: string; key: string; agentId: string; allowedOrigins: string[]; revokedAt: string | null };
type AgentItem = { id: string; name: string };
const field = ConsoleRequest.field;

export function registerKeyPages(app: Hono<AppEnv>, signedIn: SignedIn) {
  const keysPage = async (
    r: ConsoleRequest,
    extra: {
      secret?: { name: string; key: string };
      errors?: FieldErrors;
      pkErrors?: FieldErrors;
      status?: number;
    } = {},
  ) => {
    const [keys, pks, agents] = await Promise.all([
      r.api.get<{ data: ApiKey[] }>("/v1/api-keys", { limit: "100" }),
      r.api.get<{ data: PublishableKey[] }>("/v1/publishable-keys"),
      r.api.get<{ data: AgentItem[] }>("/v1/agents", { limit: "100" }),
    ]);
    if (!keys.ok) return r.failure("keys", keys);
    const agentName = (id: string) => (agents.ok ? agents.body.data.find((a) => a.id === id)?.name : undefined) ?? id;
    const e = extra.errors;
    const shown: Html | string = extra.secret
      ? html`<div class="notice ok" role="status"><strong>${extra.secret.name}</strong> was created. Copy the secret now: it is shown
          <strong>only once</strong> and cannot be recovered.<p class="secret" data-testid="new-secret">${extra.secret.key}</p></div>`
      : "";
    return r.render(
      "keys",
      "API keys",
      html`<h1>API keys</h1>
        ${notice("ok", r.c.req.query("ok"))} ${shown}
        <div class="card">
          <table>
            <thead><tr><th>Name</th><th>Key</th><th class="hide-narrow">Scopes</th><th class="hide-narrow">Last used</th><th></th></tr></thead>
            <tbody>${keys.body.data.map(
              (k) => html`<tr>
                <td>${k.name}</td><td><code>${k.prefix}…</code></td>
                <td class="hide-narrow">${k.scopes.join(", ")}</td>
                <td class="hide-narrow">${k.lastUsedAt ? k.lastUsedAt.slice(0, 16).replace("T", " ") : "never"}</td>
                <td>${
                  k.revokedAt
                    ? html`<span class="pill bad">revoked</span>`
                    : html`<form method="post" action="/console/keys/${k.id}/revoke" class="inline">${csrfField(r.csrf)}<button type="submit" class="secondary">Revoke</button></form>`
                }</td>
              </tr>`,
            )}</tbody>
          </table>
        </div>
        <h2>Create an API key</h2>
        <form method="post" action="/console/keys" class="card" novalidate>
          ${csrfField(r.csrf)}
          <div class="${errorClass(e, "name")}"><label for="key-name">Name</label><input id="key-name" name="name" type="text" placeholder="CRM sync" />${fieldError(e, "name")}</div>
          <fieldset class="${errorClass(e, "scopes")}" style="border:0;padding:0;margin:.6rem 0"><legend style="font-weight:600">Scopes</legend>
            <label style="font-weight:400;display:inline-block;margin-right:1rem"><input type="checkbox" name="scopes" value="*" /> everything</label>
            ${SCOPES.map((s) => html`<label style="font-weight:400;display:inline-block;margin-right:1rem"><input type="checkbox" name="scopes" value="${s}" /> ${s}</label>`)}
            ${fieldError(e, "scopes")}
          </fieldset>
          <button type="submit">Create key</button>
        </form>
        <h2>Publishable keys (browser calls from your site)</h2>
        <div class="card">
          <p class="muted">A publishable key is safe to put in your page: it can only start browser calls with one agent, and only from the origins you list. See docs/console.md.</p>
          ${
            pks.ok && pks.body.data.length > 0
              ? html`<table><thead><tr><th>Key</th><th>Agent</th><th>Origins</th><th></th></tr></thead><tbody>${pks.body.data.map(
                  (
                    k,
                  ) => html`<tr><td><code style="word-break:break-all">${k.key}</code></td><td>${agentName(k.agentId)}</td><td>${k.allowedOrigins.join(" ")}</td>
                  <td>${k.revokedAt ? html`<span class="pill bad">revoked</span>` : html`<form method="post" action="/console/publishable-keys/${k.id}/revoke" class="inline">${csrfField(r.csrf)}<button type="submit" class="secondary">Revoke</button></form>`}</td></tr>`,
                )}</tbody></table>`
              : ""
          }
          <form method="post" action="/console/publishable-keys" novalidate>
            ${csrfField(r.csrf)}
            <div class="row">
              <div class="${errorClass(extra.pkErrors, "agentId")}"><label for="pk-agent">Agent</label><select id="pk-agent" name="agentId">${(agents.ok ? agents.body.data : []).map((a) => html`<option value="${a.id}">${a.name}</option>`)}</select>${fieldError(extra.pkErrors, "agentId")}</div>
              <div class="${errorClass(extra.pkErrors, "allowedOrigins")}"><label for="pk-origins">Allowed origins (space-separated)</label><input id="pk-origins" name="allowedOrigins" type="text" placeholder="https://www.example.com" />${fieldError(extra.pkErrors, "allowedOrigins")}</div>
            </div>
            <p><button type="submit" class="secondary">Create publishable key</button></p>
          </form>
        </div>`,
      { status: extra.status ?? 200 },
    );
  };

  app.get(
    "/keys",
    signedIn((r) => keysPage(r)),
  );

  app.post(
    "/keys",
    signedIn(async (r) => {
      const form = await r.c.req.parseBody({ all: true });
      const scopes = ([] as unknown[]).concat(form.scopes ?? []).filter((s): s is string => typeof s === "string");
      const created = await r.api.send<ApiKey & { key: string }>(
        "POST",
        "/v1/api-keys",
        { name: field(form, "name"), scopes },
        field(form, "_csrf") || undefined,
      );
      if (!created.ok) {
        if (created.status === 400) return keysPage(r, { errors: errorsByField(created.problem), status: 400 });
        return r.failure("keys", created);
      }
      // Rendered, not redirected: the secret must not travel in a URL or be shown twice.
      return keysPage(r, { secret: { name: created.body.name, key: created.body.key }, status: 201 });
    }),
  );

  app.post(
    "/keys/:keyId/revoke",
    signedIn(async (r) => {
      const form = await r.c.req.parseBody();
      const id = r.param("keyId");
      const revoked = await r.api.send<ApiKey>(
        "POST",
        `/v1/api-keys/${encodeURIComponent(id)}/revoke`,
        undefined,
        field(form, "_csrf") || undefined,
      );
      if (!revoked.ok) return r.failure("keys", revoked);
      return r.redirect("/console/keys", `Revoked ${revoked.body.name}.`);
    }),
  );

  app.post(
    "/publishable-keys",
    signedIn(async (r) => {
      const form = await r.c.req.parseBody();
      const origins = field(form, "allowedOrigins")
        .split(/[\s,]+/)
        .filter(Boolean);
      const created = await r.api.send<PublishableKey>(
        "POST",
        "/v1/publishable-keys",
        { agentId: field(form, "agentId"), allowedOrigins: origins },
        field(form, "_csrf") || undefined,
      );
      if (!created.ok) {
        if (created.status === 400) return keysPage(r, { pkErrors: errorsByField(created.problem), status: 400 });
        return r.failure("keys", created);
      }
      return r.redirect("/console/keys", "Publishable key created.");
    }),
  );

  app.post(
    "/publishable-keys/:id/revoke",
    signedIn(async (r) => {
      const form = await r.c.req.parseBody();
      const revoked = await r.api.send<PublishableKey>(
        "POST",
        `/v1/publishable-keys/${encodeURIComponent(r.param("id"))}/revoke`,
        undefined,
        field(form, "_csrf") || undefined,
      );
      if (!revoked.ok) return r.failure("keys", revoked);
      return r.redirect("/console/keys", "Publishable key revoked.");
    }),
  );
}
