// The team: who can sign in to this account; the owner adds users.
import type { Hono } from "hono";
import { html } from "hono/html";
import type { AppEnv } from "../../env.ts";
import { errorsByField } from "../api-client.ts";
import { ConsoleRequest } from "../context.ts";
import { csrfField, errorClass, type FieldErrors, fieldError, notice } from "../layout.ts";
import type { SignedIn } from "../routes.ts";

type User = { id: string; email: string; name: string | null; role: string; canSignIn: boolean; createdAt: string };
const field = ConsoleRequest.field;

export function registerAccountPages(app: Hono<AppEnv>, signedIn: SignedIn) {
  const teamPage = async (
    r: ConsoleRequest,
    add?: { values: Record<string, string>; errors: FieldErrors; status: number },
  ) => {
    const list = await r.api.get<{ data: User[] }>("/v1/users");
    if (!list.ok) return r.failure("account", list);
    const e = add?.errors;
    return r.render(
      "account",
      "Team",
      html`<h1>Team of ${r.me.account.name}</h1>
        <p class="muted">Account ${r.me.account.id} · data in ${r.me.account.jurisdiction.toUpperCase()} · plan ${r.me.account.plan}</p>
        ${notice("ok", r.c.req.query("ok"))}
        <div class="card"><table>
          <thead><tr><th>User</th><th>Role</th><th class="hide-narrow">Since</th></tr></thead>
          <tbody>${list.body.data.map((u) => html`<tr><td>${u.email}<div class="muted">${u.id}</div></td><td>${u.role}</td><td class="hide-narrow">${u.createdAt.slice(0, 10)}</td></tr>`)}</tbody>
        </table></div>
        ${
          r.me.user.role === "owner"
            ? html`<h2>Add a user</h2>
            <form method="post" action="/console/account/users" class="card" novalidate>
              ${csrfField(r.csrf)} ${e?.form ? notice("error", e.form.join("; ")) : ""}
              <div class="row">
                <div class="${errorClass(e, "email")}"><label for="u-email">E-mail</label><input id="u-email" name="email" type="email" value="${add?.values.email ?? ""}" />${fieldError(e, "email")}</div>
                <div class="${errorClass(e, "role")}"><label for="u-role">Role</label><select id="u-role" name="role"><option value="member">member</option><option value="admin">admin</option></select></div>
                <div class="${errorClass(e, "password")}"><label for="u-password">First password</label><input id="u-password" name="password" type="password" autocomplete="new-password" />${fieldError(e, "password")}</div>
              </div>
              <p><button type="submit">Add user</button></p>
            </form>`
            : html`<p class="muted">Only the owner can add users.</p>`
        }`,
      { status: add?.status ?? 200 },
    );
  };

  app.get(
    "/account",
    signedIn((r) => teamPage(r)),
  );
  app.post(
    "/account/users",
    signedIn(async (r) => {
      const form = await r.c.req.parseBody();
      const values = {
        email: field(form, "email").trim(),
        role: field(form, "role") || "member",
        password: field(form, "password"),
      };
      const created = await r.api.send<User>("POST", "/v1/users", values, field(form, "_csrf") || undefined);
      if (!created.ok) {
        if (created.status === 400 || created.status === 409) {
          const errors =
            created.status === 409
              ? { email: [created.problem.detail ?? "Already a user."] }
              : errorsByField(created.problem);
          return teamPage(r, { values: { email: values.email }, errors, status: created.status });
        }
        return r.failure("account", created);
      }
      return r.redirect("/console/account", `${created.body.email} can now sign in.`);
    }),
  );
}
