// The console's only way to data: requests to the tenant API in this same Worker, carrying the visitor's session
// cookie and, on writes, the CSRF token the visitor's form sent. The API authenticates, authorizes, validates,
// audits and rate-limits them exactly like an API key's requests; the console never touches the database.
import type { Context } from "hono";
import type { AppEnv } from "../env.ts";
import { CSRF_HEADER } from "./auth/session-token.ts";

export type Fetcher = (request: Request, c: Context<AppEnv>) => Response | Promise<Response>;

export type Problem = {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: { location: string; pointer: string; detail: string }[];
};

export type ApiAnswer<T> =
  | { ok: true; status: number; body: T; headers: Headers }
  | { ok: false; status: number; problem: Problem; headers: Headers };

/** Headers worth passing from the browser's request to the API's (who is asking, from where). */
const FORWARDED = ["cookie", "cf-connecting-ip", "x-real-ip", "user-agent"];

export class ConsoleApi {
  constructor(
    private readonly c: Context<AppEnv>,
    private readonly fetcher: Fetcher,
  ) {}

  get<T>(path: string, query?: Record<string, string | undefined>): Promise<ApiAnswer<T>> {
    const url = new URL(path, this.c.req.url);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") url.searchParams.set(k, v);
    return this.#send<T>("GET", url, undefined, undefined);
  }

  /** A write: `csrf` is what the visitor's form carried (missing → the API refuses it). */
  send<T>(method: "POST" | "PATCH" | "DELETE", path: string, body: unknown, csrf: string | undefined) {
    return this.#send<T>(method, new URL(path, this.c.req.url), body, csrf);
  }

  async #send<T>(method: string, url: URL, body: unknown, csrf: string | undefined): Promise<ApiAnswer<T>> {
    const headers = new Headers();
    for (const name of FORWARDED) {
      const value = this.c.req.header(name);
      if (value !== undefined) headers.set(name, value);
    }
    if (csrf !== undefined) headers.set(CSRF_HEADER, csrf);
    if (body !== undefined) headers.set("content-type", "application/json");
    const res = await this.fetcher(
      new Request(url, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }),
      this.c,
    );
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = { detail: text.slice(0, 300) };
    }
    if (res.ok) return { ok: true, status: res.status, body: parsed as T, headers: res.headers };
    return { ok: false, status: res.status, problem: (parsed ?? {}) as Problem, headers: res.headers };
  }
}

/**
 * A problem's field errors keyed by form field: the last segment of each JSON Pointer that names a field
 * (`/config/systemPrompt` → `systemPrompt`, `/config/tools/0/url` → `tools`).
 */
export function errorsByField(problem: Problem, fieldOf: (pointer: string) => string = defaultField) {
  const out: Record<string, string[]> = {};
  for (const e of problem.errors ?? []) {
    const field = fieldOf(e.pointer);
    out[field] = [...(out[field] ?? []), e.detail];
  }
  return out;
}

function defaultField(pointer: string): string {
  const parts = pointer.split("/").filter(Boolean);
  const first = parts[0] === "config" ? parts[1] : parts[0];
  return first ?? "form";
}

/** The message to show for a failed request. */
export function describe(problem: Problem): string {
  return [problem.title, problem.detail].filter(Boolean).join(": ") || "The request failed.";
}
