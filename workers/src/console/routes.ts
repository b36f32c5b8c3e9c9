// The tenant console under /console: server-rendered pages (Hono's html helper) whose data all comes from the
// tenant API through ConsoleApi, plus the sign-in, sign-up and sign-out forms. See docs/console.md.
import { type Context, Hono } from "hono";
import { html } from "hono/html";
import type { AppEnv } from "../env.ts";
import { ConsoleApi, describe, type Fetcher } from "./api-client.ts";
import { ConsoleRequest, type Me, signInAgain, signInForm } from "./context.ts";
import { notice, page } from "./layout.ts";
import { registerAccountPages } from "./pages/account.ts";
import { registerAgentPages } from "./pages/agents.ts";
import { registerCallPages } from "./pages/calls.ts";
import { registerConsentPages } from "./pages/consent.ts";
import { registerKeyPages } from "./pages/keys.ts";
import { registerNumberPages } from "./pages/numbers.ts";
import { registerUsagePages } from "./pages/usage.ts";

export type SignedInHandler = (r: ConsoleRequest) => Response | Promise<Response>;
export type SignedIn = (handler: SignedInHandler) => (c: Context<AppEnv>) => Promise<Response>;

const field = ConsoleRequest.field;

/** A form post from another origin is refused before anything else (the browser always sends Origin on POST). */
function crossOrigin(c: Context<AppEnv>): boolean {
  const origin = c.req.header("origin");
  return origin !== undefined && origin !== new URL(c.req.url).origin;
}

export function consoleRoutes(fetcher: Fetcher) {
  const app = new Hono<AppEnv>();

  const signedIn: SignedIn = (handler) => async (c) => {
    const me = await new ConsoleApi(c, fetcher).get<Me>("/v1/sessions/current");
    if (!me.ok) return signInAgain(c, me.problem);
    return handler(new ConsoleRequest(c, fetcher, me.body));
  };

  app.get("/", (c) => c.redirect("/console/agents", 302));

  app.get("/sign-in", (c) => c.html(page({ title: "Sign in", body: signInForm({ ok: c.req.query("ok") }) })));
  app.post("/sign-in", async (c) => {
    const form = await c.req.parseBody();
    const email = field(form, "email");
    if (crossOrigin(c)) {
      return c.html(page({ title: "Sign in", body: signInForm({ error: "Sign in from this page.", email }) }), 403);
    }
    const answer = await new ConsoleApi(c, fetcher).send<unknown>(
      "POST",
      "/v1/sessions",
      { email, password: field(form, "password") },
      undefined,
    );
    if (!answer.ok) {
      const error =
        answer.status === 400
          ? "Enter your e-mail address and password."
          : (answer.problem.detail ?? describe(answer.problem));
      const res = await c.html(page({ title: "Sign in", body: signInForm({ error, email }) }), answer.status as 401);
      const retry = answer.headers.get("retry-after");
      if (retry) res.headers.set("retry-after", retry);
      return res;
    }
    const next = field(form, "next");
    const res = c.redirect(next.startsWith("/console") ? next : "/console", 303);
    copyCookie(answer.headers, res);
    return res;
  });

  app.get("/sign-up", (c) => c.html(page({ title: "Sign up", body: signUpForm({}) })));
  app.post("/sign-up", async (c) => {
    const form = await c.req.parseBody();
    const values = {
      name: field(form, "name"),
      email: field(form, "email"),
      jurisdiction: field(form, "jurisdiction") || "us",
    };
    if (crossOrigin(c))
      return c.html(page({ title: "Sign up", body: signUpForm({ values, error: "Sign up from this page." }) }), 403);
    const api = new ConsoleApi(c, fetcher);
    const created = await api.send<{ apiKey: { key: string } }>(
      "POST",
      "/v1/accounts",
      { ...values, password: field(form, "password") },
      undefined,
    );
    if (!created.ok) {
      const errors: Record<string, string> = {};
      for (const e of created.problem.errors ?? []) errors[e.pointer.split("/")[1] ?? "form"] = e.detail;
      return c.html(
        page({ title: "Sign up", body: signUpForm({ values, errors, error: describe(created.problem) }) }),
        created.status as 400,
      );
    }
    const session = await api.send<unknown>(
      "POST",
      "/v1/sessions",
      { email: values.email, password: field(form, "password") },
      undefined,
    );
    const res = await c.html(
      page({
        title: "Welcome",
        body: html`<div class="card" style="max-width:40rem;margin:2rem auto">
          <h1>Your account is ready</h1>
          <p>This is your first API key. It is shown <strong>once</strong>; copy it now.</p>
          <p class="secret" data-testid="new-secret">${created.body.apiKey.key}</p>
          <p><a class="button" href="/console/agents">Go to the console</a></p>
        </div>`,
      }),
      201,
    );
    if (session.ok) copyCookie(session.headers, res);
    return res;
  });

  app.post("/sign-out", async (c) => {
    const form = await c.req.parseBody();
    const answer = await new ConsoleApi(c, fetcher).send<unknown>(
      "POST",
      "/v1/sessions/current/revoke",
      undefined,
      field(form, "_csrf") || undefined,
    );
    if (!answer.ok && answer.status !== 401) {
      return c.html(
        page({ title: "Sign out", body: html`${notice("error", describe(answer.problem))}` }),
        answer.status as 403,
      );
    }
    const res = c.redirect("/console/sign-in?ok=You+are+signed+out.", 303);
    copyCookie(answer.headers, res);
    return res;
  });

  registerAgentPages(app, signedIn);
  registerNumberPages(app, signedIn);
  registerCallPages(app, signedIn);
  registerConsentPages(app, signedIn);
  registerKeyPages(app, signedIn);
  registerUsagePages(app, signedIn);
  registerAccountPages(app, signedIn);
  return app;
}

/** The API's Set-Cookie (the session cookie, or its deletion) onto the console's own response. */
function copyCookie(from: Headers, to: Response): void {
  const cookie = from.get("set-cookie");
  if (cookie) to.headers.append("set-cookie", cookie);
}

function signUpForm(o: {
  values?: { name?: string; email?: string; jurisdiction?: string };
  errors?: Record<string, string>;
  error?: string;
}) {
  const v = o.values ?? {};
  const err = (name: string) =>
    o.errors?.[name] ? html`<p class="field-error" role="alert">${o.errors[name]}</p>` : "";
  return html`<div class="card" style="max-width:28rem;margin:2rem auto">
    <h1>Create an account</h1>
    ${notice("error", o.error)}
    <form method="post" action="/console/sign-up">
      <label for="name">Company or project</label>
      <input id="name" name="name" type="text" required value="${v.name ?? ""}" />${err("name")}
      <label for="email">Your e-mail</label>
      <input id="email" name="email" type="email" required value="${v.email ?? ""}" />${err("email")}
      <label for="password">Password (10 characters or more)</label>
      <input id="password" name="password" type="password" autocomplete="new-password" required />${err("password")}
      <label for="jurisdiction">Where your data lives</label>
      <select id="jurisdiction" name="jurisdiction">
        <option value="us" ${v.jurisdiction === "eu" ? "" : "selected"}>United States</option>
        <option value="eu" ${v.jurisdiction === "eu" ? "selected" : ""}>European Union</option>
      </select>
      <p><button type="submit">Create account</button></p>
    </form>
    <p class="muted">Already have one? <a href="/console/sign-in">Sign in</a>.</p>
  </div>`;
}
