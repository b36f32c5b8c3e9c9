// The console's page frame: one stylesheet inline (no request, nothing from another origin), a navigation bar
// that folds under the title on a phone, and the bundled client script when a page needs it.
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export const NAV = [
  ["agents", "Agents"],
  ["numbers", "Phone numbers"],
  ["calls", "Calls"],
  ["consent", "Consent"],
  ["keys", "API keys"],
  ["usage", "Usage"],
] as const;
export type Section = (typeof NAV)[number][0] | "account";

const CSS = `
*{box-sizing:border-box}
[hidden]{display:none!important}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1c2230;background:#f5f6f8}
a{color:#2350c8}
header{background:#16203a;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center}
header .brand{font-weight:700;letter-spacing:.04em;color:#fff;text-decoration:none}
header nav{display:flex;flex-wrap:wrap;gap:.2rem .9rem}
header nav a{color:#c9d3ee;text-decoration:none;padding:.15rem 0}
header nav a[aria-current=page]{color:#fff;border-bottom:2px solid #7aa2ff}
header .who{margin-left:auto;display:flex;gap:.6rem;align-items:center;font-size:.85rem;color:#c9d3ee}
header .who button{background:none;border:1px solid #5b6a91;color:#fff;border-radius:4px;padding:.15rem .5rem;cursor:pointer}
main{max-width:1080px;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.3rem 0 1rem}
h2{font-size:1.1rem;margin:1.4rem 0 .6rem}
.card{background:#fff;border:1px solid #dde1ea;border-radius:8px;padding:1rem;margin-bottom:1rem;overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid #eceef3;vertical-align:top}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:#5a6477}
label{display:block;font-weight:600;margin:.7rem 0 .2rem}
input[type=text],input[type=email],input[type=password],input[type=number],input[type=date],select,textarea{width:100%;padding:.45rem .5rem;border:1px solid #c4cad6;border-radius:5px;font:inherit;background:#fff}
textarea{min-height:7rem;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.85rem}
.row{display:flex;flex-wrap:wrap;gap:.6rem;align-items:flex-end}
.row>*{flex:1 1 10rem}
button,.button{display:inline-block;background:#2350c8;color:#fff;border:0;border-radius:5px;padding:.5rem .9rem;font:inherit;cursor:pointer;text-decoration:none}
button.secondary,.button.secondary{background:#e8ecf5;color:#1c2230}
button.danger{background:#b3261e}
.inline{display:inline}
.field-error{color:#b3261e;font-size:.85rem;margin:.2rem 0 0}
.has-error input,.has-error textarea,.has-error select{border-color:#b3261e}
.notice{padding:.6rem .8rem;border-radius:6px;margin-bottom:1rem}
.notice.error{background:#fdecea;border:1px solid #f1b0aa;color:#7a1a13}
.notice.ok{background:#e9f6ec;border:1px solid #a9d8b4;color:#1d5a2b}
.secret{font-family:ui-monospace,"DejaVu Sans Mono",monospace;word-break:break-all;background:#fffbe6;border:1px dashed #d8b400;padding:.5rem;border-radius:5px}
.muted{color:#6b7385;font-size:.85rem}
.pill{display:inline-block;padding:.05rem .45rem;border-radius:9px;font-size:.78rem;background:#e8ecf5}
.pill.ok{background:#dff3e4}.pill.bad{background:#fde2df}.pill.live{background:#fff0c2}
.transcript{list-style:none;padding:0;margin:0}
.transcript li{padding:.5rem .6rem;border-radius:6px;margin:.35rem 0;max-width:46rem}
.transcript li.caller{background:#eef2fb}
.transcript li.agent{background:#f3f0fa;margin-left:auto}
.transcript .who{font-size:.75rem;text-transform:uppercase;color:#5a6477;letter-spacing:.04em}
.interrupted{border-left:3px solid #d9822b}
.heard-mark{font-size:.75rem;color:#a65a12}
.spoken-line{font-style:italic;color:#4a4f5c}
.line-source{font-style:normal;font-size:.7rem;text-transform:uppercase;letter-spacing:.04em;background:#e4e0ef;border-radius:4px;padding:0 .3rem;margin-right:.3rem}
.waterfall{display:flex;height:14px;border-radius:3px;overflow:hidden;background:#eceef3;margin:.3rem 0}
.waterfall span{display:block;height:100%}
.w-stt{background:#2fa7c6}.w-turn{background:#8fa1c7}.w-llm{background:#9b59b6}.w-tts{background:#e0a526}.w-platform{background:#7c8596}
.legend span{display:inline-flex;align-items:center;gap:.25rem;margin-right:.8rem;font-size:.8rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;border-radius:2px}
.talk{display:flex;flex-wrap:wrap;gap:.6rem;align-items:center}
.level{height:8px;width:120px;background:#eceef3;border-radius:4px;overflow:hidden}
.level i{display:block;height:100%;width:0;background:#2fa76b}
figure{margin:0 0 1rem}
.chart svg{width:100%;height:auto;max-height:240px}
.pager{display:flex;gap:.6rem;margin-top:.8rem}
@media (max-width:640px){
  header .who{margin-left:0;width:100%}
  main{padding:.6rem}
  th,td{padding:.35rem .3rem;font-size:.85rem}
  .hide-narrow{display:none}
}`;

export interface PageOptions {
  title: string;
  section?: Section;
  user?: { email: string; accountName: string; csrf: string } | undefined;
  /** Load the bundled client (web calls, live call updates). */
  script?: boolean;
  body: Html;
  status?: number;
}

export function page(o: PageOptions): Html {
  const nav = o.user
    ? html`<nav aria-label="Console">
        ${NAV.map(
          ([id, label]) =>
            html`<a href="/console/${id}" ${o.section === id ? raw('aria-current="page"') : ""}>${label}</a>`,
        )}
      </nav>
      <div class="who">
        <span>${o.user.email} · ${o.user.accountName}</span>
        <a href="/console/account" style="color:#c9d3ee">Team</a>
        <form method="post" action="/console/sign-out" class="inline">
          <input type="hidden" name="_csrf" value="${o.user.csrf}" /><button type="submit">Sign out</button>
        </form>
      </div>`
    : "";
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>${o.title} · AYBIZA console</title>
<style>${raw(CSS)}</style>
${o.script ? raw('<script type="module" src="/console/assets/console.js"></script>') : ""}
</head>
<body>
<header><a class="brand" href="/console">AYBIZA</a>${nav}</header>
<main>${o.body}</main>
</body>
</html>`;
}

/** Errors from a problem+json `errors` list, by form field name. */
export type FieldErrors = Record<string, string[]>;

export function fieldError(errors: FieldErrors | undefined, name: string): Html | string {
  const list = errors?.[name];
  if (!list || list.length === 0) return "";
  return html`<p class="field-error" id="${name}-error" role="alert">${list.join("; ")}</p>`;
}

export function errorClass(errors: FieldErrors | undefined, name: string): string {
  return errors?.[name]?.length ? "has-error" : "";
}

export function notice(kind: "error" | "ok", text: string | undefined): Html | string {
  if (!text) return "";
  return html`<div class="notice ${kind}" role="${kind === "error" ? "alert" : "status"}">${text}</div>`;
}

export function csrfField(csrf: string): Html {
  return html`<input type="hidden" name="_csrf" value="${csrf}" />`;
}
