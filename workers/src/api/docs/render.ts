// Renders the OpenAPI document as one self-contained HTML page (inline CSS, no scripts, no CDN): the API
// reference must work offline and must never drift from the routes, so it is generated from the same document.
import { PROBLEM_BASE, PROBLEM_TYPES } from "../../lib/problem.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const METHODS = ["get", "post", "put", "patch", "delete"] as const;

const esc = (s: unknown): string =>
  String(s).replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");

const obj = (v: Json | undefined): JsonObject | undefined =>
  v && typeof v === "object" && !Array.isArray(v) ? v : undefined;
const arr = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : []);
const str = (v: Json | undefined): string | undefined => (typeof v === "string" ? v : undefined);

export const anchorOf = (method: string, path: string): string =>
  `op-${method}-${path.replaceAll(/[^a-zA-Z0-9]+/g, "-").replace(/-$/, "")}`;

/** Inline, markdown-lite: `code` only (descriptions use backticks for names). */
function text(s: string | undefined): string {
  if (!s) return "";
  return esc(s).replaceAll(/`([^`]+)`/g, "<code>$1</code>");
}

function refName(ref: string): string {
  return ref.split("/").pop() ?? ref;
}

/** A short type label for a JSON Schema, linking named schemas. */
function typeOf(schema: Json | undefined): string {
  const s = obj(schema);
  if (!s) return "any";
  const ref = str(s.$ref);
  if (ref) return `<a href="#schema-${esc(refName(ref))}">${esc(refName(ref))}</a>`;
  if (s.enum)
    return arr(s.enum)
      .map((v) => `<code>${esc(JSON.stringify(v))}</code>`)
      .join(" | ");
  if (s.const !== undefined) return `<code>${esc(JSON.stringify(s.const))}</code>`;
  for (const k of ["anyOf", "oneOf"] as const) if (s[k]) return arr(s[k]).map(typeOf).join(" | ");
  if (s.allOf) return arr(s.allOf).map(typeOf).join(" &amp; ");
  const types = Array.isArray(s.type) ? s.type.map(String) : s.type ? [String(s.type)] : [];
  const label = types
    .map((t) => {
      if (t === "array") return `${typeOf(s.items)}[]`;
      if (t === "string" && s.format) return `string (${esc(s.format)})`;
      return esc(t);
    })
    .join(" | ");
  return label || (s.properties ? "object" : "any");
}

function constraints(s: JsonObject): string {
  const parts: string[] = [];
  for (const [key, label] of [
    ["minLength", "min length"],
    ["maxLength", "max length"],
    ["minimum", "min"],
    ["maximum", "max"],
    ["minItems", "min items"],
    ["maxItems", "max items"],
  ] as const) {
    if (s[key] !== undefined) parts.push(`${label} ${esc(s[key])}`);
  }
  if (s.pattern !== undefined) parts.push(`pattern <code>${esc(s.pattern)}</code>`);
  if (s.default !== undefined) parts.push(`default <code>${esc(JSON.stringify(s.default))}</code>`);
  if (s.example !== undefined) parts.push(`e.g. <code>${esc(JSON.stringify(s.example))}</code>`);
  return parts.join(", ");
}

function propertiesTable(schema: JsonObject): string {
  const props = obj(schema.properties);
  if (!props) return "";
  const required = new Set(arr(schema.required).map(String));
  const rows = Object.entries(props).map(([name, p]) => {
    const ps = obj(p) ?? {};
    return `<tr><td><code>${esc(name)}</code>${required.has(name) ? ' <span class="req">required</span>' : ""}</td><td>${typeOf(p)}</td><td>${text(str(ps.description))}${ps.description && constraints(ps) ? "<br>" : ""}<span class="muted">${constraints(ps)}</span></td></tr>`;
  });
  const closed = schema.additionalProperties === false ? '<p class="muted">No other fields are accepted.</p>' : "";
  return `<table><thead><tr><th>Field</th><th>Type</th><th>Notes</th></tr></thead><tbody>${rows.join("")}</tbody></table>${closed}`;
}

function schemaBlock(schema: Json | undefined): string {
  const s = obj(schema);
  if (!s) return "";
  if (s.$ref || !s.properties) return `<p>${typeOf(s)}</p>`;
  return propertiesTable(s);
}

function operation(method: string, path: string, op: JsonObject): string {
  const scopes = arr(op.security).flatMap((req) => Object.values(obj(req) ?? {}).flatMap((v) => arr(v).map(String)));
  const auth = op.security
    ? `<p><strong>Auth:</strong> API key${scopes.length ? ` with scope ${scopes.map((s) => `<code>${esc(s)}</code>`).join(", ")}` : ""}</p>`
    : "<p><strong>Auth:</strong> none</p>";
  const params = arr(op.parameters)
    .map((p) => obj(p))
    .filter((p): p is JsonObject => p !== undefined);
  const paramTable = params.length
    ? `<h4>Parameters</h4><table><thead><tr><th>Name</th><th>In</th><th>Type</th><th>Notes</th></tr></thead><tbody>${params
        .map((p) => {
          const ps = obj(p.schema) ?? {};
          return `<tr><td><code>${esc(p.name)}</code>${p.required ? ' <span class="req">required</span>' : ""}</td><td>${esc(p.in)}</td><td>${typeOf(p.schema)}</td><td>${text(str(p.description) ?? str(ps.description))} <span class="muted">${constraints(ps)}</span></td></tr>`;
        })
        .join("")}</tbody></table>`
    : "";
  const body = obj(obj(obj(obj(op.requestBody)?.content)?.["application/json"])?.schema);
  const bodyBlock = body ? `<h4>Request body <span class="muted">application/json</span></h4>${schemaBlock(body)}` : "";
  const responses = Object.entries(obj(op.responses) ?? {})
    .map(([status, r]) => {
      const rs = obj(r) ?? {};
      const content = obj(rs.content) ?? {};
      const [mediaType, media] = Object.entries(content)[0] ?? [];
      const schema = obj(media)?.schema;
      return `<tr><td><code>${esc(status)}</code></td><td>${text(str(rs.description))}</td><td>${mediaType ? `${typeOf(schema)} <span class="muted">${esc(mediaType)}</span>` : ""}</td></tr>`;
    })
    .join("");
  return `<section class="op" id="${anchorOf(method, path)}">
<h3><span class="method m-${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
<p class="summary">${text(str(op.summary))}</p>${op.description ? `<p>${text(str(op.description))}</p>` : ""}
${auth}${paramTable}${bodyBlock}
<h4>Responses</h4><table><thead><tr><th>Status</th><th>Meaning</th><th>Body</th></tr></thead><tbody>${responses}</tbody></table>
</section>`;
}

const STYLE = `
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#fff}
header{background:#111a2e;color:#fff;padding:24px 32px}header h1{margin:0 0 4px;font-size:24px}
main{display:grid;grid-template-columns:260px 1fr;gap:32px;padding:24px 32px;max-width:1400px}
nav{position:sticky;top:16px;align-self:start;font-size:14px;max-height:95vh;overflow:auto}
nav ul{list-style:none;padding-left:0;margin:4px 0 16px}nav li{margin:2px 0}nav a{color:#234;text-decoration:none}
h2{border-bottom:2px solid #e3e7ef;padding-bottom:4px;margin-top:40px}
.op{border:1px solid #e3e7ef;border-radius:8px;padding:4px 20px 12px;margin:20px 0}
.method{display:inline-block;min-width:64px;text-align:center;border-radius:4px;color:#fff;font-size:13px;padding:2px 6px}
.m-get{background:#2f7d32}.m-post{background:#1f5fbf}.m-patch{background:#a66300}.m-delete{background:#b3261e}.m-put{background:#6a3fb5}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:14px}th,td{border:1px solid #e3e7ef;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fb}code{background:#f1f3f7;border-radius:3px;padding:0 3px;font-size:13px}.req{color:#b3261e;font-size:12px}
.muted{color:#667085;font-size:13px}.summary{font-weight:600}`;

/** The whole reference page for an OpenAPI document. */
export function renderReference(doc: JsonObject): string {
  const info = obj(doc.info) ?? {};
  const paths = obj(doc.paths) ?? {};
  const byTag = new Map<string, { method: string; path: string; op: JsonObject }[]>();
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const op = obj(obj(item)?.[method]);
      if (!op) continue;
      const tag = str(arr(op.tags)[0]) ?? "Other";
      const list = byTag.get(tag) ?? [];
      list.push({ method, path, op });
      byTag.set(tag, list);
    }
  }
  const schemas = obj(obj(doc.components)?.schemas) ?? {};
  // Events we POST to tenants' webhook endpoints (the document's `webhooks`), shown like operations.
  const webhooks = Object.entries(obj(doc.webhooks) ?? {}).flatMap(([name, item]) => {
    const op = obj(obj(item)?.post);
    return op ? [{ method: "post", path: name, op }] : [];
  });
  if (webhooks.length) byTag.set("Events (webhooks we send)", webhooks);

  const nav = [...byTag]
    .map(
      ([tag, ops]) =>
        `<strong>${esc(tag)}</strong><ul>${ops
          .map(
            ({ method, path, op }) =>
              `<li><a href="#${anchorOf(method, path)}">${esc(method.toUpperCase())} ${esc(path)}</a><br><span class="muted">${text(str(op.summary))}</span></li>`,
          )
          .join("")}</ul>`,
    )
    .join("");

  const problemRows = Object.entries(PROBLEM_TYPES)
    .map(
      ([slug, [status, title]]) =>
        `<tr id="problem-${esc(slug)}"><td><code>${esc(PROBLEM_BASE + slug)}</code></td><td>${status}</td><td>${esc(title)}</td></tr>`,
    )
    .join("");

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(info.title ?? "API")} reference</title><style>${STYLE}</style></head>
<body><header><h1>${esc(info.title ?? "API")} <span class="muted">v${esc(info.version ?? "")}</span></h1>
<div>${text(str(info.description))} Machine-readable: <a style="color:#9cf" href="/v1/openapi.json">/v1/openapi.json</a> (OpenAPI ${esc(doc.openapi ?? "")}).</div></header>
<main><nav><a href="#basics"><strong>Basics</strong></a><br><a href="#problems"><strong>Errors</strong></a><br><a href="#schemas"><strong>Schemas</strong></a><br><br>${nav}</nav>
<div>
<h2 id="basics">Basics</h2>
<p><strong>Authentication.</strong> Send an API key as <code>Authorization: Bearer sk_…</code>. Sign-up (<code>POST /v1/accounts</code>) returns the first key, once. A missing, unknown or revoked key gets 401; a key without the operation's scope gets 403. Scopes: see each operation; <code>*</code> grants all.</p>
<p><strong>Errors</strong> are <code>application/problem+json</code> (RFC 9457) with <code>type</code>, <code>title</code>, <code>status</code>, <code>detail</code>, <code>instance</code>, <code>requestId</code> and, for invalid input, <code>errors[]</code> of <code>{location, pointer, detail}</code>. A failed request changes nothing.</p>
<p><strong>Idempotency.</strong> Send <code>Idempotency-Key: &lt;unique string&gt;</code> on a POST to make retries safe: a retry returns the first response (header <code>idempotent-replayed: true</code>); the same key with a different request is a 422. Keys are kept 24 hours per account.</p>
<p><strong>Pagination.</strong> Lists are newest first and return <code>{data, nextCursor}</code>; pass <code>cursor=nextCursor</code> for the next page and <code>limit</code> (1–100, default 20) for its size.</p>
<p><strong>Resources in other accounts</strong> do not exist for you: every lookup of another account's ID is a 404.</p>
<p><strong>Limits.</strong> Request bodies up to 256 KB (413 above); unknown fields are rejected (400).</p>
${[...byTag].map(([tag, ops]) => `<h2>${esc(tag)}</h2>${ops.map(({ method, path, op }) => operation(method, path, op)).join("")}`).join("")}
<h2 id="problems">Problem types</h2>
<table><thead><tr><th>type</th><th>status</th><th>title</th></tr></thead><tbody>${problemRows}</tbody></table>
<h2 id="schemas">Schemas</h2>
${Object.entries(schemas)
  .map(
    ([name, s]) =>
      `<section id="schema-${esc(name)}"><h3>${esc(name)}</h3>${text(str(obj(s)?.description))}${schemaBlock(s) || `<p>${typeOf(s)}</p>`}</section>`,
  )
  .join("")}
</div></main></body></html>`;
}
