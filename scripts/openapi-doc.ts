// `npm run docs:api`: writes docs/api-reference.md from the OpenAPI 3.1 document the edge serves at
// /v1/openapi.json. The document is built in this process (the app is web-standard Hono and its document route
// needs no database or binding), so no server, port or Worker runtime is involved.
//
//   npm run docs:api               regenerate docs/api-reference.md
//   npm run docs:api -- --check    exit 1 if the committed file differs from what the routes say
//
// test/node/docs/api-reference-is-up-to-date.test.ts fails when a route changes and this was not run.
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PROBLEM_BASE, PROBLEM_TYPES } from "../workers/src/lib/problem.ts";

export const API_REFERENCE_PATH = fileURLToPath(new URL("../docs/api-reference.md", import.meta.url));

// The app is imported by a computed URL on purpose: its source type-checks against the Workers types
// (tsconfig.workers.json), and a static import would pull all of it into the Node type-check, which has
// Node's types instead. At run time it is plain TypeScript that tsx and vitest load like any other module.
const APP_MODULE = new URL("../workers/src/app.ts", import.meta.url).href;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface AppModule {
  createApp(): { request(path: string): Response | Promise<Response> };
  OPENAPI_PATH: string;
}

function isAppModule(value: unknown): value is AppModule {
  const m = value as Partial<AppModule> | null;
  return typeof m?.createApp === "function" && typeof m.OPENAPI_PATH === "string";
}

/** The OpenAPI document exactly as `GET /v1/openapi.json` answers it. */
export async function loadOpenApiDocument(): Promise<JsonObject> {
  const mod: unknown = await import(APP_MODULE);
  if (!isAppModule(mod)) throw new Error(`${APP_MODULE} does not export createApp and OPENAPI_PATH`);
  const response = await mod.createApp().request(mod.OPENAPI_PATH);
  if (response.status !== 200) throw new Error(`${mod.OPENAPI_PATH} answered HTTP ${response.status}`);
  const doc = (await response.json()) as Json;
  const object = obj(doc);
  if (!object || typeof object.openapi !== "string" || !obj(object.paths)) {
    throw new Error(`${mod.OPENAPI_PATH} did not return an OpenAPI document`);
  }
  return object;
}

const METHODS = ["get", "post", "put", "patch", "delete"] as const;

const obj = (v: Json | undefined): JsonObject | undefined =>
  v && typeof v === "object" && !Array.isArray(v) ? v : undefined;
const arr = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : []);
const str = (v: Json | undefined): string | undefined => (typeof v === "string" ? v : undefined);

/** Table cells: one line, pipes escaped (GFM splits cells on `|` even inside code spans). */
const cell = (s: string): string => s.replaceAll(/\s*\n\s*/g, " ").replaceAll("|", "\\|");
const code = (s: string): string => (s.includes("`") ? `\`\` ${s} \`\`` : `\`${s}\``);
const refName = (ref: string): string => ref.split("/").pop() ?? ref;
const schemaAnchor = (name: string): string => `schema-${name.toLowerCase()}`;
const opAnchor = (method: string, path: string): string =>
  `${method}-${path.replaceAll(/[^a-zA-Z0-9]+/g, "-").replace(/^-|-$/g, "")}`.toLowerCase();
const schemaLink = (name: string): string => `[${code(name)}](#${schemaAnchor(name)})`;

class Renderer {
  readonly #schemas: JsonObject;

  constructor(doc: JsonObject) {
    this.#schemas = obj(obj(doc.components)?.schemas) ?? {};
  }

  /** The schema a `$ref` points at (components only), else the schema itself. */
  resolve(schema: Json | undefined): JsonObject | undefined {
    const s = obj(schema);
    const ref = str(s?.$ref);
    if (ref) return obj(this.#schemas[refName(ref)]);
    return s;
  }

  /**
   * For `allOf: [{$ref}, {description…}]` (zod-openapi's way of describing a field of a named type) the
   * referenced schema; for plain schemas the schema itself.
   */
  target(schema: Json | undefined): JsonObject | undefined {
    const s = obj(schema);
    if (!s) return undefined;
    const parts = arr(s.allOf).map(obj);
    const refs = parts.filter((p) => p?.$ref);
    if (refs.length === 1 && parts.every((p) => p?.$ref || !(p?.properties || p?.items))) return this.resolve(refs[0]);
    return this.resolve(s);
  }

  typeOf(schema: Json | undefined): string {
    const s = obj(schema);
    if (!s) return "any";
    const ref = str(s.$ref);
    if (ref) return schemaLink(refName(ref));
    for (const key of ["anyOf", "oneOf"] as const) {
      if (s[key]) return [...new Set(arr(s[key]).map((x) => this.typeOf(x)))].join(" or ");
    }
    if (s.allOf) {
      const parts = arr(s.allOf)
        .map(obj)
        .filter((p) => p?.$ref || p?.type || p?.properties);
      const labels = parts.map((p) => {
        if (p?.$ref) return this.typeOf(p);
        const types = Array.isArray(p?.type) ? p.type.map(String) : [];
        // `{type: [object, null]}` beside a $ref only adds "or null".
        return types.length === 2 && types.includes("null") && types.includes("object") ? "null" : this.typeOf(p);
      });
      return labels.join(labels.includes("null") ? " or " : " and ");
    }
    if (s.const !== undefined) return code(JSON.stringify(s.const));
    const types = Array.isArray(s.type) ? s.type.map(String) : s.type !== undefined ? [String(s.type)] : [];
    const label = types
      .map((t) => {
        if (t === "array") return `${this.typeOf(s.items)}[]`;
        if (t === "string" && typeof s.format === "string") return `string (${s.format})`;
        return t;
      })
      .join(" or ");
    return label || (s.properties ? "object" : "any");
  }

  notes(schema: Json | undefined): string {
    const s = obj(schema) ?? {};
    const described =
      str(s.description) ??
      arr(s.allOf)
        .map((p) => str(obj(p)?.description))
        .find((d) => d !== undefined);
    const parts: string[] = [];
    const base = obj(arr(s.allOf).find((p) => !obj(p)?.$ref && obj(p)?.type)) ?? s;
    const e = arr(base.enum).length ? base.enum : s.enum;
    if (Array.isArray(e)) parts.push(`one of ${e.map((v) => code(JSON.stringify(v))).join(", ")}`);
    for (const [key, label] of [
      ["minLength", "min length"],
      ["maxLength", "max length"],
      ["minimum", "min"],
      ["maximum", "max"],
      ["minItems", "min items"],
      ["maxItems", "max items"],
    ] as const) {
      if (s[key] !== undefined) parts.push(`${label} ${String(s[key])}`);
    }
    if (typeof s.pattern === "string") parts.push(`pattern ${code(s.pattern)}`);
    if (s.default !== undefined) parts.push(`default ${code(JSON.stringify(s.default))}`);
    if (s.example !== undefined) parts.push(`e.g. ${code(JSON.stringify(s.example))}`);
    if (s.additionalProperties === false && s.properties) parts.push("no other fields");
    const constraints = parts.join("; ");
    if (!described) return constraints;
    if (!constraints) return described;
    return `${described}${/[.!?:]$/.test(described) ? "" : "."} ${constraints.charAt(0).toUpperCase()}${constraints.slice(1)}`;
  }

  /**
   * One row per field. `expandRefs` also opens named schemas (request bodies list every field a client can send);
   * otherwise only inline objects are opened and named ones are linked.
   */
  fieldRows(schema: JsonObject, prefix: string, expandRefs: boolean, seen: ReadonlySet<JsonObject>): string[] {
    const rows: string[] = [];
    const props = obj(schema.properties) ?? {};
    const required = new Set(arr(schema.required).map(String));
    for (const [name, p] of Object.entries(props)) {
      const path = `${prefix}${name}`;
      rows.push(
        `| ${code(path)} | ${cell(this.typeOf(p))} | ${required.has(name) ? "yes" : ""} | ${cell(this.notes(p))} |`,
      );
      const ps = obj(p);
      const isRef = Boolean(ps?.$ref || arr(ps?.allOf).some((x) => obj(x)?.$ref));
      if (isRef && !expandRefs) continue;
      const t = this.target(p);
      if (!t || seen.has(t)) continue;
      const inner = new Set([...seen, t]);
      if (t.properties) rows.push(...this.fieldRows(t, `${path}.`, expandRefs, inner));
      const items = this.target(t.items);
      const itemsIsRef = Boolean(obj(t.items)?.$ref);
      if (items?.properties && !seen.has(items) && (expandRefs || !itemsIsRef)) {
        rows.push(...this.fieldRows(items, `${path}[].`, expandRefs, new Set([...inner, items])));
      }
    }
    return rows;
  }

  fieldTable(schema: JsonObject, expandRefs: boolean): string {
    const header = "| field | type | required | notes |\n|---|---|---|---|";
    return `${header}\n${this.fieldRows(schema, "", expandRefs, new Set([schema])).join("\n")}`;
  }

  /** A schema's own fields, with `allOf` bases named first. */
  schemaBody(schema: JsonObject): string {
    const bases = arr(schema.allOf).map(obj);
    if (bases.length) {
      const refs = bases.filter((b) => b?.$ref).map((b) => schemaLink(refName(str(b?.$ref) ?? "")));
      const own = bases.find((b) => b?.properties);
      const lead = `Every field of ${refs.join(" and ")}${own ? ", and:" : "."}`;
      return own ? `${lead}\n\n${this.fieldTable(own, false)}` : lead;
    }
    if (schema.properties) return this.fieldTable(schema, false);
    const notes = this.notes(schema);
    return `${cell(this.typeOf(schema))}${notes ? `. ${notes.charAt(0).toUpperCase()}${notes.slice(1)}` : ""}.`;
  }
}

function authOf(op: JsonObject): string {
  if (!op.security) return "none";
  const scopes = arr(op.security).flatMap((req) => Object.values(obj(req) ?? {}).flatMap((v) => arr(v).map(String)));
  return scopes.length ? `API key with scope ${scopes.map(code).join(", ")}` : "any valid API key";
}

function operationSection(r: Renderer, method: string, path: string, op: JsonObject): string {
  const out: string[] = [];
  out.push(`<a id="${opAnchor(method, path)}"></a>`);
  out.push(`### ${method.toUpperCase()} ${code(path)}`);
  out.push("");
  const summary = str(op.summary);
  const description = str(op.description);
  out.push([summary ? `**${summary}.**` : "", description ?? ""].filter((x) => x).join(" "));
  out.push("");
  out.push(`Auth: ${authOf(op)}.`);

  const params = arr(op.parameters)
    .map(obj)
    .filter((p): p is JsonObject => p !== undefined);
  if (params.length) {
    out.push("");
    out.push("| parameter | in | type | required | notes |\n|---|---|---|---|---|");
    for (const p of params) {
      const notes = r.notes({ ...(obj(p.schema) ?? {}), ...(p.description ? { description: p.description } : {}) });
      out.push(
        `| ${code(String(p.name))} | ${String(p.in)} | ${cell(r.typeOf(p.schema))} | ${p.required ? "yes" : ""} | ${cell(notes)} |`,
      );
    }
  }

  const requestBody = obj(op.requestBody);
  for (const [mediaType, media] of Object.entries(obj(requestBody?.content) ?? {})) {
    const schema = obj(media)?.schema;
    const resolved = r.resolve(schema);
    const named = str(obj(schema)?.$ref);
    out.push("");
    out.push(
      `Request body (${code(mediaType)}${requestBody?.required ? ", required" : ""})${named ? `: ${schemaLink(refName(named))}` : ""}`,
    );
    if (resolved?.properties) {
      out.push("");
      out.push(r.fieldTable(resolved, true));
    }
  }

  out.push("");
  out.push("| status | meaning | body |\n|---|---|---|");
  for (const [status, response] of Object.entries(obj(op.responses) ?? {})) {
    const rs = obj(response) ?? {};
    const [mediaType, media] = Object.entries(obj(rs.content) ?? {})[0] ?? [];
    const body =
      mediaType === "application/problem+json"
        ? `[problem](#problem-types) (${code(mediaType)})`
        : mediaType
          ? `${r.typeOf(obj(media)?.schema)} (${code(mediaType)})`
          : "none";
    out.push(`| ${status} | ${cell(str(rs.description) ?? "")} | ${cell(body)} |`);
  }
  return out.join("\n");
}

/** docs/api-reference.md for an OpenAPI document. Deterministic: same document, same bytes. */
export function renderApiReference(doc: JsonObject): string {
  const r = new Renderer(doc);
  const info = obj(doc.info) ?? {};
  const byTag = new Map<string, { method: string; path: string; op: JsonObject }[]>();
  for (const [path, item] of Object.entries(obj(doc.paths) ?? {})) {
    for (const method of METHODS) {
      const op = obj(obj(item)?.[method]);
      if (!op) continue;
      const tag = str(arr(op.tags)[0]) ?? "Other";
      byTag.set(tag, [...(byTag.get(tag) ?? []), { method, path, op }]);
    }
  }
  const schemas = obj(obj(doc.components)?.schemas) ?? {};
  const out: string[] = [];
  out.push("# API reference");
  out.push("");
  out.push(
    "<!-- Generated by scripts/openapi-doc.ts from the edge's OpenAPI document; do not edit by hand. After changing a route, run `npm run docs:api`. -->",
  );
  out.push("");
  out.push(
    `${str(info.title) ?? "API"} ${str(info.version) ?? ""}, OpenAPI ${str(doc.openapi) ?? ""}. ${str(info.description) ?? ""}`.trim(),
  );
  out.push("");
  out.push(
    "The edge serves the same document at `GET /v1/openapi.json` and renders it as an HTML page at `GET /v1/docs`. " +
      "The rules every operation follows (authentication and scopes, errors, idempotency, pagination, accounts " +
      "sealed from each other) are in [api.md](api.md). Besides the responses listed below, any operation may " +
      "answer 500 `internal-error`, and any authenticated one 429 `rate-limited` (with `Retry-After`) when the " +
      "account is over its plan's request rate. Carrier webhooks (`/v1/telephony/*`), the media-node endpoints and " +
      "the live call feed (`GET /v1/calls/{callId}/live`, a WebSocket) are not tenant REST operations and are not " +
      "in this document: see [edge.md](edge.md).",
  );
  out.push("");
  out.push("## Operations");
  out.push("");
  out.push("| method | path | summary | auth |\n|---|---|---|---|");
  for (const ops of byTag.values()) {
    for (const { method, path, op } of ops) {
      out.push(
        `| ${method.toUpperCase()} | [${code(path)}](#${opAnchor(method, path)}) | ${cell(str(op.summary) ?? "")} | ${cell(authOf(op))} |`,
      );
    }
  }
  for (const [tag, ops] of byTag) {
    out.push("");
    out.push(`## ${tag}`);
    for (const { method, path, op } of ops) {
      out.push("");
      out.push(operationSection(r, method, path, op));
    }
  }
  const webhooks = Object.entries(obj(doc.webhooks) ?? {});
  if (webhooks.length) {
    out.push("");
    out.push("## Events (webhooks)");
    out.push("");
    out.push(
      "What the platform POSTs to a tenant's webhook endpoints, signed per Standard Webhooks (`webhook-id`, " +
        "`webhook-timestamp`, `webhook-signature`): see [webhooks.md](webhooks.md). Bodies are versioned: a change " +
        "that is not backwards compatible gets a new `version`. `recording.ready` is reserved and not sent yet.",
    );
    out.push("");
    out.push("| event | summary | body |\n|---|---|---|");
    for (const [name, item] of webhooks) {
      const op = obj(obj(item)?.post) ?? {};
      const schema = obj(obj(obj(obj(op.requestBody)?.content)?.["application/json"])?.schema);
      out.push(`| ${code(name)} | ${cell(str(op.summary) ?? "")} | ${cell(r.typeOf(schema))} |`);
    }
    const first = obj(obj(webhooks[0]?.[1])?.post) ?? {};
    const headers = arr(first.parameters)
      .map(obj)
      .filter((p): p is JsonObject => p?.in === "header");
    if (headers.length) {
      out.push("");
      out.push("Every event carries these headers:");
      out.push("");
      out.push("| header | notes |\n|---|---|");
      for (const h of headers) out.push(`| ${code(String(h.name))} | ${cell(str(h.description) ?? "")} |`);
    }
  }
  out.push("");
  out.push('<a id="problem-types"></a>');
  out.push("## Problem types");
  out.push("");
  out.push(
    "Every error is `application/problem+json` (RFC 9457) with the fields of " +
      `${schemaLink("Problem")}. Compare \`type\` (stable), not \`title\` or \`detail\`.`,
  );
  out.push("");
  out.push("| type | status | title |\n|---|---|---|");
  for (const [slug, [status, title]] of Object.entries(PROBLEM_TYPES)) {
    out.push(`| ${code(PROBLEM_BASE + slug)} | ${status} | ${cell(title)} |`);
  }
  out.push("");
  out.push("## Schemas");
  for (const [name, schema] of Object.entries(schemas)) {
    const s = obj(schema) ?? {};
    out.push("");
    out.push(`<a id="${schemaAnchor(name)}"></a>`);
    out.push(`### ${name}`);
    out.push("");
    out.push(r.schemaBody(s));
  }
  return `${out.join("\n")}\n`;
}

async function main(): Promise<number> {
  const check = process.argv.includes("--check");
  const unknown = process.argv.slice(2).filter((a) => a !== "--check");
  if (unknown.length) {
    process.stderr.write(`docs:api: unknown argument ${unknown.join(" ")} (the only option is --check)\n`);
    return 2;
  }
  const rendered = renderApiReference(await loadOpenApiDocument());
  if (check) {
    const committed = await readFile(API_REFERENCE_PATH, "utf8").catch(() => "");
    if (committed === rendered) {
      process.stdout.write("docs/api-reference.md is up to date\n");
      return 0;
    }
    process.stderr.write("docs/api-reference.md is out of date: run npm run docs:api\n");
    return 1;
  }
  await writeFile(API_REFERENCE_PATH, rendered);
  const operations = (rendered.match(/^### (GET|POST|PUT|PATCH|DELETE) /gm) ?? []).length;
  process.stdout.write(`wrote docs/api-reference.md (${operations} operations)\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
