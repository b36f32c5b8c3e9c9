// Agents: list, create, edit (each save is a new version), versions with publish, and "Talk to this agent".
import type { Hono } from "hono";
import { html } from "hono/html";
import type { AppEnv } from "../../env.ts";
import { errorsByField } from "../api-client.ts";
import { ConsoleRequest } from "../context.ts";
import { csrfField, errorClass, type FieldErrors, fieldError, notice } from "../layout.ts";
import type { SignedIn } from "../routes.ts";
import { talkPanel } from "./talk.ts";

type AgentConfig = {
  systemPrompt: string;
  firstMessage: string | null;
  voice: string;
  language: string;
  maxTokens: number;
  tools: unknown[];
};
export type Agent = {
  id: string;
  name: string;
  version: number;
  config: AgentConfig;
  publishedVersion: number | null;
  createdAt: string;
  updatedAt: string;
};
type Version = { id: string; version: number; name: string; published: boolean; createdAt: string };
type Page<T> = { data: T[]; nextCursor: string | null };

const field = ConsoleRequest.field;

type FormValues = {
  name: string;
  systemPrompt: string;
  firstMessage: string;
  voice: string;
  language: string;
  maxTokens: string;
  tools: string;
};

function valuesOf(agent: Agent): FormValues {
  return {
    name: agent.name,
    systemPrompt: agent.config.systemPrompt,
    firstMessage: agent.config.firstMessage ?? "",
    voice: agent.config.voice,
    language: agent.config.language,
    maxTokens: String(agent.config.maxTokens),
    tools: JSON.stringify(agent.config.tools, null, 2),
  };
}

/** The form as an API body, or the fields the console itself could not read (the tools' JSON). */
function bodyOf(form: Record<string, unknown>): {
  values: FormValues;
  config?: Record<string, unknown>;
  errors?: FieldErrors;
} {
  const values: FormValues = {
    name: field(form, "name"),
    systemPrompt: field(form, "systemPrompt"),
    firstMessage: field(form, "firstMessage"),
    voice: field(form, "voice").trim(),
    language: field(form, "language").trim(),
    maxTokens: field(form, "maxTokens").trim(),
    tools: field(form, "tools").trim(),
  };
  const config: Record<string, unknown> = {
    systemPrompt: values.systemPrompt,
    firstMessage: values.firstMessage.trim() === "" ? null : values.firstMessage,
  };
  if (values.voice) config.voice = values.voice;
  if (values.language) config.language = values.language;
  // A number goes as a number; anything else goes as typed, so the API's own message explains what is wrong.
  if (values.maxTokens) config.maxTokens = /^\d+$/.test(values.maxTokens) ? Number(values.maxTokens) : values.maxTokens;
  if (values.tools) {
    try {
      config.tools = JSON.parse(values.tools);
    } catch {
      return { values, errors: { tools: ["This is not valid JSON: a list of tool definitions, or [] for none."] } };
    }
  }
  return { values, config };
}

function agentForm(o: {
  action: string;
  values?: FormValues;
  errors?: FieldErrors;
  csrf: string;
  submit: string;
  publish?: boolean;
}) {
  const v = o.values;
  const e = o.errors;
  const text = (name: keyof FormValues, label: string, hint = "") => html`<div class="${errorClass(e, name)}">
    <label for="${name}">${label}</label>
    <input id="${name}" name="${name}" type="text" value="${v?.[name] ?? ""}" ${html`aria-describedby="${name}-error"`} />
    ${hint ? html`<p class="muted">${hint}</p>` : ""}${fieldError(e, name)}
  </div>`;
  return html`<form method="post" action="${o.action}" class="card" novalidate>
    ${csrfField(o.csrf)} ${e?.form ? notice("error", e.form.join("; ")) : ""}
    ${text("name", "Name")}
    <div class="${errorClass(e, "systemPrompt")}">
      <label for="systemPrompt">System prompt</label>
      <textarea id="systemPrompt" name="systemPrompt" aria-describedby="systemPrompt-error">${v?.systemPrompt ?? ""}</textarea>
      ${fieldError(e, "systemPrompt")}
    </div>
    ${text("firstMessage", "First message", "What the agent says when it answers; empty to wait for the caller.")}
    <div class="row">${text("voice", "Voice")} ${text("language", "Language")} ${text("maxTokens", "Max tokens per reply")}</div>
    <div class="${errorClass(e, "tools")}">
      <label for="tools">Tools (JSON)</label>
      <textarea id="tools" name="tools" aria-describedby="tools-error">${v?.tools ?? "[]"}</textarea>
      ${fieldError(e, "tools")}
    </div>
    <label><input type="checkbox" name="publish" value="true" ${o.publish ? "checked" : ""} /> Publish this version (new calls use it)</label>
    <p><button type="submit">${o.submit}</button></p>
  </form>`;
}

export function registerAgentPages(app: Hono<AppEnv>, signedIn: SignedIn) {
  app.get(
    "/agents",
    signedIn(async (r) => {
      const list = await r.api.get<Page<Agent>>("/v1/agents", { limit: "50", cursor: r.c.req.query("cursor") });
      if (!list.ok) return r.failure("agents", list);
      const rows = list.body.data;
      return r.render(
        "agents",
        "Agents",
        html`<div class="row" style="align-items:center"><h1>Agents</h1><p style="flex:0 0 auto"><a class="button" href="/console/agents/new">New agent</a></p></div>
          ${notice("ok", r.c.req.query("ok"))}
          <div class="card">
            ${
              rows.length === 0
                ? html`<p>No agents yet. <a href="/console/agents/new">Create your first agent</a>.</p>`
                : html`<table>
                  <thead><tr><th>Name</th><th>Latest</th><th>Published</th><th class="hide-narrow">Updated</th></tr></thead>
                  <tbody>
                    ${rows.map(
                      (a) => html`<tr>
                        <td><a href="/console/agents/${a.id}">${a.name}</a><div class="muted">${a.id}</div></td>
                        <td>v${a.version}</td>
                        <td>${a.publishedVersion ? html`<span class="pill ok">v${a.publishedVersion}</span>` : html`<span class="pill">draft</span>`}</td>
                        <td class="hide-narrow">${a.updatedAt.slice(0, 16).replace("T", " ")}</td>
                      </tr>`,
                    )}
                  </tbody>
                </table>`
            }
            ${list.body.nextCursor ? html`<div class="pager"><a href="?cursor=${list.body.nextCursor}">Next page →</a></div>` : ""}
          </div>`,
      );
    }),
  );

  app.get(
    "/agents/new",
    signedIn((r) =>
      r.render(
        "agents",
        "New agent",
        html`<h1>New agent</h1>${agentForm({ action: "/console/agents", csrf: r.csrf, submit: "Create agent", values: { name: "", systemPrompt: "", firstMessage: "", voice: "", language: "", maxTokens: "", tools: "[]" } })}`,
      ),
    ),
  );

  app.post(
    "/agents",
    signedIn(async (r) => {
      const form = await r.c.req.parseBody();
      const parsed = bodyOf(form);
      const render = (errors: FieldErrors, status: number) =>
        r.render(
          "agents",
          "New agent",
          html`<h1>New agent</h1>${agentForm({ action: "/console/agents", csrf: r.csrf, submit: "Create agent", values: parsed.values, errors, publish: form.publish === "true" })}`,
          { status },
        );
      if (parsed.errors) return render(parsed.errors, 400);
      const created = await r.api.send<Agent>(
        "POST",
        "/v1/agents",
        { name: parsed.values.name, config: parsed.config, publish: form.publish === "true" },
        field(form, "_csrf") || undefined,
      );
      if (!created.ok) {
        if (created.status === 400) return render(errorsByField(created.problem), 400);
        return r.failure("agents", created);
      }
      return r.redirect(`/console/agents/${created.body.id}`, `Created ${created.body.name} (version 1).`);
    }),
  );

  app.get(
    "/agents/:agentId",
    signedIn(async (r) => {
      const id = r.param("agentId");
      const [agent, versions] = await Promise.all([
        r.api.get<Agent>(`/v1/agents/${encodeURIComponent(id)}`),
        r.api.get<Page<Version>>(`/v1/agents/${encodeURIComponent(id)}/versions`, { limit: "50" }),
      ]);
      if (!agent.ok) return r.failure("agents", agent);
      return agentPage(r, agent.body, versions.ok ? versions.body.data : [], undefined);
    }),
  );

  app.post(
    "/agents/:agentId",
    signedIn(async (r) => {
      const id = r.param("agentId");
      const form = await r.c.req.parseBody();
      const parsed = bodyOf(form);
      const current = await r.api.get<Agent>(`/v1/agents/${encodeURIComponent(id)}`);
      if (!current.ok) return r.failure("agents", current);
      if (parsed.errors) return agentPage(r, current.body, [], { values: parsed.values, errors: parsed.errors });
      const updated = await r.api.send<Agent>(
        "PATCH",
        `/v1/agents/${encodeURIComponent(id)}`,
        { name: parsed.values.name, config: parsed.config, publish: form.publish === "true" },
        field(form, "_csrf") || undefined,
      );
      if (!updated.ok) {
        if (updated.status === 400) {
          return agentPage(r, current.body, [], { values: parsed.values, errors: errorsByField(updated.problem) });
        }
        return r.failure("agents", updated);
      }
      return r.redirect(`/console/agents/${id}`, `Saved as version ${updated.body.version}.`);
    }),
  );

  app.post(
    "/agents/:agentId/publish",
    signedIn(async (r) => {
      const id = r.param("agentId");
      const form = await r.c.req.parseBody();
      const version = Number(field(form, "version"));
      const published = await r.api.send<Agent>(
        "POST",
        `/v1/agents/${encodeURIComponent(id)}/publish`,
        { version },
        field(form, "_csrf") || undefined,
      );
      if (!published.ok) return r.failure("agents", published);
      return r.redirect(`/console/agents/${id}`, `Version ${version} is published.`);
    }),
  );
}

async function agentPage(
  r: ConsoleRequest,
  agent: Agent,
  versions: Version[],
  edit: { values: FormValues; errors: FieldErrors } | undefined,
) {
  if (versions.length === 0 && edit) {
    const again = await r.api.get<Page<Version>>(`/v1/agents/${encodeURIComponent(agent.id)}/versions`, {
      limit: "50",
    });
    if (again.ok) versions = again.body.data;
  }
  return r.render(
    "agents",
    agent.name,
    html`<h1>${agent.name}</h1>
      ${notice("ok", r.c.req.query("ok"))}
      ${edit ? notice("error", "The agent was not saved; see the fields marked below.") : ""}
      ${talkPanel(agent, versions, r.csrf)}
      <h2>Settings (saving makes version ${agent.version + 1})</h2>
      ${agentForm({
        action: `/console/agents/${agent.id}`,
        csrf: r.csrf,
        submit: "Save new version",
        values: edit?.values ?? valuesOf(agent),
        errors: edit?.errors,
      })}
      <h2>Versions</h2>
      <div class="card">
        <table>
          <thead><tr><th>Version</th><th>Name</th><th class="hide-narrow">Created</th><th></th></tr></thead>
          <tbody>
            ${versions.map(
              (v) => html`<tr>
                <td>v${v.version}</td><td>${v.name}</td>
                <td class="hide-narrow">${v.createdAt.slice(0, 16).replace("T", " ")}</td>
                <td>${
                  v.published
                    ? html`<span class="pill ok">published</span>`
                    : html`<form method="post" action="/console/agents/${agent.id}/publish" class="inline">
                      ${csrfField(r.csrf)}<input type="hidden" name="version" value="${v.version}" />
                      <button type="submit" class="secondary">Publish v${v.version}</button>
                    </form>`
                }</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>`,
    { script: true, status: edit ? 400 : 200 },
  );
}
