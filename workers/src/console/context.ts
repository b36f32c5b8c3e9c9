// What every signed-in console handler gets: the API client, who is signed in, and how to answer.
import type { Context } from "hono";
import { html } from "hono/html";
import type { AppEnv } from "../env.ts";
import { type ApiAnswer, ConsoleApi, describe, type Fetcher, type Problem } from "./api-client.ts";
import { type Html, notice, page, type Section } from "./layout.ts";

export type Me = {
  user: { id: string; email: string; name: string | null; role: "owner" | "admin" | "member" };
  account: { id: string; name: string; jurisdiction: string; plan: string };
  scopes: string[];
  csrfToken: string;
};

export class ConsoleRequest {
  readonly api: ConsoleApi;
  constructor(
    readonly c: Context<AppEnv>,
    fetcher: Fetcher,
    readonly me: Me,
  ) {
    this.api = new ConsoleApi(c, fetcher);
  }

  /** A path parameter of the route ("" if the route has none by that name). */
  param(name: string): string {
    return this.c.req.param(name) ?? "";
  }

  get csrf(): string {
    return this.me.csrfToken;
  }

  render(section: Section, title: string, body: Html, opts: { status?: number; script?: boolean } = {}) {
    const out = page({
      title,
      section,
      user: { email: this.me.user.email, accountName: this.me.account.name, csrf: this.csrf },
      script: opts.script ?? false,
      body,
    });
    return this.c.html(out, (opts.status ?? 200) as 200);
  }

  /** A failed API answer as a page: 401 goes to sign-in, anything else says what the API said. */
  failure(section: Section, answer: Extract<ApiAnswer<unknown>, { ok: false }>) {
    if (answer.status === 401) return signInAgain(this.c, answer.problem);
    return this.render(
      section,
      answer.problem.title ?? "Refused",
      html`<h1>${answer.status === 404 ? "Not found" : "Refused"}</h1>
        ${notice("error", describe(answer.problem))}
        <p><a href="/console/${section}">Back</a></p>`,
      { status: answer.status },
    );
  }

  /** After a successful write: back to a page with a one-line confirmation. */
  redirect(to: string, message?: string) {
    const url = new URL(to, this.c.req.url);
    if (message) url.searchParams.set("ok", message);
    return this.c.redirect(`${url.pathname}${url.search}`, 303);
  }

  /** A form field as a string ("" when absent). */
  static field(form: Record<string, unknown>, name: string): string {
    const v = form[name];
    return typeof v === "string" ? v : "";
  }
}

/** The visitor is not (or no longer) signed in: the sign-in page, saying why, with the API's status. */
export function signInAgain(c: Context<AppEnv>, problem: Problem) {
  const next = c.req.method === "GET" ? new URL(c.req.url).pathname : "/console";
  return c.html(
    page({
      title: "Sign in",
      body: signInForm({ error: problem.detail ?? "Sign in to continue.", next }),
    }),
    401,
  );
}

export function signInForm(o: { error?: string | undefined; email?: string; next?: string; ok?: string | undefined }) {
  return html`<div class="card" style="max-width:26rem;margin:2rem auto">
    <h1>Sign in</h1>
    ${notice("error", o.error)} ${notice("ok", o.ok)}
    <form method="post" action="/console/sign-in">
      <input type="hidden" name="next" value="${o.next ?? "/console"}" />
      <label for="email">E-mail</label>
      <input id="email" name="email" type="email" autocomplete="username" required value="${o.email ?? ""}" />
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required />
      <p><button type="submit">Sign in</button></p>
    </form>
    <p class="muted">No account yet? <a href="/console/sign-up">Sign up</a>.</p>
  </div>`;
}
