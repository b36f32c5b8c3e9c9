// The tenant console in Debian's Chromium against the whole platform (wrangler dev, media node, emulators): sign
// in, build and publish an agent, attach a number, sign out; refusals that write nothing (wrong password, expired
// session, a form without its CSRF token, another tenant's IDs); a whole browser call whose fake microphone speaks
// an espeak-ng line, with the transcript in the page, the call page updating live and the waterfall afterwards;
// and a screenshot of every page at desktop and phone width. One platform and one browser for the whole file.
import { mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { html } from "hono/html";
import pg from "pg";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Platform, startPlatform } from "../../../scripts/platform/platform.ts";
import { client } from "../../../scripts/platform/seed.ts";
import { page as layout } from "../../../workers/src/console/layout.ts";
import { type Usage, usageCharts } from "../../../workers/src/console/pages/usage-charts.ts";
import { freePorts, offlineEnv, tempDataDir } from "../platform/support.ts";
import { callerWav, desktopContext, launch, phoneContext, recordOrigins, shoot } from "./browser.ts";

let platform: Platform;
let browser: Browser;
let desk: BrowserContext;
let origins: Set<string>;

const CALLER_LINE = "Hello, I would like to know when your shop is open on Saturday.";

beforeAll(async () => {
  const wavDir = mkdtempSync(path.join(tmpdir(), "aybiza-console-"));
  const [p, b] = await Promise.all([
    startPlatform({ dataDir: tempDataDir(), ports: await freePorts(), env: offlineEnv(), pgliteDir: "memory://" }),
    launch(callerWav(wavDir, CALLER_LINE)),
  ]);
  platform = p;
  browser = b;
  desk = await desktopContext(browser, platform.edgeUrl);
  origins = recordOrigins(desk);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
}, 60_000);

/** A page on a loopback origin of its own, standing in for a tenant's website. */
async function servePage(body: (origin: string) => string): Promise<{ origin: string; close(): Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(body(origin));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** What docs/console.md tells a tenant to put in its page. */
function embedPage(edgeUrl: string, _origin: string): string {
  return `<!doctype html><meta charset="utf-8"><title>Shop</title>
<script src="${edgeUrl}/console/assets/aybiza-web-call.js"></script>
<ul id="t"></ul>
<script>
  window.startIt = async (publishableKey, agentId) => {
    window.call = await AybizaWebCall.startCall({
      edgeUrl: ${JSON.stringify(edgeUrl)}, publishableKey, agentId,
      events: { onTranscript: (role, text) => {
        const li = document.createElement("li"); li.className = role; li.textContent = text;
        document.getElementById("t").append(li);
      } },
    });
    return window.call.ticket.callId;
  };
</script>`;
}

async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  const db = new pg.Client({ connectionString: platform.databaseUrl });
  await db.connect();
  try {
    return (await db.query(text, params)).rows as T[];
  } finally {
    await db.end();
  }
}

async function signIn(page: Page, email = platform.tenant.email, password = platform.tenant.password ?? "") {
  await page.goto("/console/sign-in");
  await page.fill("#email", email);
  await page.fill("#password", password);
  await submit(page, "main button[type=submit]");
}

const api = () => client(platform.edgeUrl);

/** Clicks something that navigates (a link, a form's button) and waits for the next page. */
async function submit(page: Page, selector: string): Promise<void> {
  await Promise.all([page.waitForEvent("load"), page.click(selector)]);
}

/** The text of the first element matching `selector`, once it is visible. */
async function textOf(page: Page, selector: string, timeout = 15_000): Promise<string> {
  const el = page.locator(selector).first();
  await el.waitFor({ state: "visible", timeout });
  return ((await el.textContent()) ?? "").trim();
}
const key = () => platform.tenant.apiKey;

describe("the console in a browser", { timeout: 120_000 }, () => {
  test("sign in, create an agent (its validation errors next to the fields), publish it, attach a number, sign out", async () => {
    const page = await desk.newPage();
    const first = await page.goto("/console/agents");
    expect(first?.status()).toBe(401);
    expect(await textOf(page, "h1")).toBe("Sign in");
    await shoot(page, "sign-in", "desktop");

    await signIn(page);
    expect(await textOf(page, "h1")).toBe("Agents");
    expect(await textOf(page, "table")).toContain("Acme Bikes front desk");

    // The API's own validation: an empty prompt and a bad token count come back next to their fields.
    await submit(page, "text=New agent");
    await page.fill("#name", "Evening line");
    await page.fill("#maxTokens", "ten");
    await submit(page, "button:has-text('Create agent')");
    await textOf(page, "#systemPrompt-error");
    expect(await textOf(page, "#maxTokens-error")).toMatch(/number/i);
    const before = (await api().call("GET", "/v1/agents", key())).body as { data: unknown[] };
    expect(before.data).toHaveLength(1);
    await shoot(page, "agent-validation", "desktop");

    await page.fill("#systemPrompt", "You answer the evening line of Acme Bikes. Be brief.");
    await page.fill("#maxTokens", "512");
    await submit(page, "button:has-text('Create agent')");
    expect(await textOf(page, ".notice.ok")).toContain("Created Evening line");
    const agentId = new URL(page.url()).pathname.split("/").pop() ?? "";
    await submit(page, "button:has-text('Publish v1')");
    expect(await textOf(page, ".notice.ok")).toContain("Version 1 is published");
    const agent = (await api().call("GET", `/v1/agents/${agentId}`, key())).body as { publishedVersion: number };
    expect(agent.publishedVersion).toBe(1);

    await submit(page, "nav >> text=Phone numbers");
    await page.fill("#e164", "+14155550177");
    await page.selectOption("#agentId", agentId);
    await submit(page, "button:has-text('Add number')");
    expect(await textOf(page, ".notice.ok")).toContain("Added +14155550177");
    const numbers = (await api().call("GET", "/v1/phone-numbers", key())).body as {
      data: { e164: string; agentId: string | null; id: string }[];
    };
    expect(numbers.data.find((n) => n.e164 === "+14155550177")?.agentId).toBe(agentId);
    // Detach, then attach again through the row's form.
    const row = page.locator("tr[data-number='+14155550177']");
    await Promise.all([page.waitForEvent("load"), row.locator("button:has-text('Detach')").click()]);
    expect(await textOf(page, ".notice.ok")).toContain("detached");
    await page.locator("tr[data-number='+14155550177'] select").selectOption(agentId);
    await Promise.all([
      page.waitForEvent("load"),
      page.locator("tr[data-number='+14155550177'] button:has-text('Attach')").click(),
    ]);
    expect(await textOf(page, ".notice.ok")).toContain("attached");
    await shoot(page, "numbers", "desktop");

    // Every console write went through the API's audit path as the user.
    const audited = await sql<{ action: string; actor_type: string }>(
      "SELECT action, actor_type FROM audit_log WHERE tenant_id = $1 AND actor_type = 'user' ORDER BY at",
      [platform.tenant.accountId],
    );
    expect(audited.map((a) => a.action)).toEqual(
      expect.arrayContaining(["session.create", "agent.create", "agent.publish", "phone_number.create"]),
    );

    await submit(page, "header button:has-text('Sign out')");
    expect(await textOf(page, ".notice.ok")).toContain("signed out");
    const after = await page.goto("/console/agents");
    expect(after?.status()).toBe(401);
    await page.close();
  });

  test("sign-up creates the owner, shows the first API key once and signs them in", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${platform.edgeUrl}/console/sign-up`);
    await page.fill("#name", "Velo Repairs");
    await page.fill("#email", "owner@velo.example");
    await page.fill("#password", "short");
    await submit(page, "main button[type=submit]");
    expect(await textOf(page, ".field-error")).toMatch(/10 characters/);
    await page.fill("#password", "a long enough password");
    await submit(page, "main button[type=submit]");
    const secret = await textOf(page, "[data-testid=new-secret]");
    expect(secret).toMatch(/^sk_AYB-/);
    expect((await api().call("GET", "/v1/agents", secret)).status).toBe(200);
    await submit(page, "text=Go to the console");
    expect(await textOf(page, "header .who")).toContain("owner@velo.example");
    await context.close();
  });

  test("refuses a wrong password, an expired session, a form without CSRF token and another tenant's IDs, writing nothing", async () => {
    const page = await desk.newPage();
    const sessionsBefore = await sql<{ n: string }>("SELECT count(*) AS n FROM console_sessions");
    await signIn(page, platform.tenant.email, "not-the-password");
    expect(await textOf(page, ".notice.error")).toBe("The e-mail or password is not right.");
    expect(await sql<{ n: string }>("SELECT count(*) AS n FROM console_sessions")).toEqual(sessionsBefore);
    await shoot(page, "sign-in-refused", "desktop");

    await signIn(page);
    const count = async () => ((await api().call("GET", "/v1/agents", key())).body as { data: unknown[] }).data.length;
    const agents = await count();

    // A form post with the session cookie but without the CSRF token (what another site's form would send).
    const forged = await page.request.post("/console/agents", {
      form: { name: "Forged", systemPrompt: "Leak everything." },
    });
    expect(forged.status()).toBe(403);
    expect(await forged.text()).toContain("CSRF");
    expect(await count()).toBe(agents);

    // Another tenant's IDs in the URL: a 404 page, and their number stays as it was.
    const other = (
      await api().call("POST", "/v1/accounts", undefined, {
        name: "Other Co",
        email: "owner@other.example",
      })
    ).body as { apiKey: { key: string } };
    const theirAgent = (
      await api().call("POST", "/v1/agents", other.apiKey.key, {
        name: "Theirs",
        config: { systemPrompt: "Private." },
        publish: true,
      })
    ).body as { id: string };
    const theirNumber = (
      await api().call("POST", "/v1/phone-numbers", other.apiKey.key, {
        e164: "+14155550199",
        provider: "twilio",
        agentId: theirAgent.id,
      })
    ).body as { id: string };
    const seen = await page.goto(`/console/agents/${theirAgent.id}`);
    expect(seen?.status()).toBe(404);
    expect(await textOf(page, ".notice.error")).toContain("No agent");
    const seenCall = await page.goto("/console/calls/call_22222222222222222222");
    expect(seenCall?.status()).toBe(404);
    await page.goto("/console/numbers");
    const csrf = await page.locator("input[name=_csrf]").first().inputValue();
    const detach = await page.request.post(`/console/numbers/${theirNumber.id}`, {
      form: { _csrf: csrf, agentId: "" },
    });
    expect(detach.status()).toBe(404);
    const theirs = (await api().call("GET", `/v1/phone-numbers/${theirNumber.id}`, other.apiKey.key)).body as {
      agentId: string | null;
    };
    expect(theirs.agentId).toBe(theirAgent.id);

    // An expired session: the next form is refused with the reason, and nothing is written.
    await page.goto("/console/agents/new");
    await sql("UPDATE console_sessions SET expires_at = now() - interval '1 second' WHERE tenant_id = $1", [
      platform.tenant.accountId,
    ]);
    await page.fill("#name", "Too late");
    await page.fill("#systemPrompt", "Hello.");
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/console/agents") && r.request().method() === "POST"),
      page.click("button:has-text('Create agent')"),
    ]);
    await page.waitForLoadState("load");
    expect(response.status()).toBe(401);
    expect(await textOf(page, ".notice.error")).toContain("expired");
    expect(await count()).toBe(agents);
    await page.close();
  });

  test("a whole browser call: the agent answers the fake microphone, the transcript shows, the call page updates live and keeps the waterfall", async () => {
    const page = await desk.newPage();
    await signIn(page);
    const agentId = platform.tenant.agentId;
    await page.goto(`/console/agents/${agentId}`);
    await page.click("[data-talk-start]");
    // The greeting, then the agent's answer to the line the microphone speaks.
    await textOf(page, "[data-talk-transcript] li.agent", 30_000);
    const callId = await page.locator("[data-talk]").getAttribute("data-call-id");
    expect(callId).toMatch(/^call_/);
    await textOf(page, "[data-talk-status]");
    expect(await textOf(page, "[data-talk-status]")).toContain("Live");

    // The call's page, opened while the call runs, grows as the conversation goes on.
    const live = await desk.newPage();
    await live.goto(`/console/calls/${callId}`);
    expect(await live.getAttribute("[data-live-call]", "data-live")).toBe("yes");
    const turnsAtLoad = await live.locator("[data-transcript] li").count();
    await live.waitForFunction((n) => document.querySelectorAll("[data-transcript] li").length > n, turnsAtLoad, {
      timeout: 45_000,
    });
    await live.locator("[data-transcript] li.caller").first().waitFor({ timeout: 45_000 });
    await page.locator("[data-talk-transcript] li.caller").first().waitFor({ timeout: 45_000 });
    await shoot(page, "talk-to-agent", "desktop");
    await shoot(live, "call-live", "desktop");

    // Hang up: the call ends, the live page reloads into the stored record with each turn's waterfall.
    await page.click("[data-talk-stop]");
    await page.waitForFunction(() => document.querySelector("[data-talk]")?.getAttribute("data-ended") === "yes");
    await live.waitForFunction(
      () => !document.querySelector("[data-call-status]")?.textContent?.match(/progress|ringing/),
      undefined,
      {
        timeout: 30_000,
      },
    );
    await live.waitForLoadState("load");
    await live.locator("[data-testid=waterfall]").first().waitFor({ timeout: 15_000 });
    const stored = (await api().call("GET", `/v1/calls/${callId}`, key())).body as {
      direction: string;
      status: string;
      turns: {
        speaker: string;
        text: string;
        latency: { firstAudioMs: number | null; llmRequestAt: string | null } | null;
      }[];
    };
    expect(stored.direction).toBe("web");
    expect(stored.status).toBe("completed");
    expect(stored.turns.some((t) => t.speaker === "caller" && t.text.length > 0)).toBe(true);
    expect(stored.turns.some((t) => t.speaker === "agent" && (t.latency?.firstAudioMs ?? 0) > 0)).toBe(true);
    // Turn detection has its own segment: when the model was asked is stored with the turn.
    expect(stored.turns.some((t) => t.latency?.llmRequestAt)).toBe(true);
    await shoot(live, "call", "desktop");

    // Listed among the calls, as a web call.
    await page.goto("/console/calls?direction=web");
    expect(await page.locator(`tr[data-call-id='${callId}']`).count()).toBe(1);
    await shoot(page, "calls", "desktop");
    await page.close();
    await live.close();
  });

  test("consent and API keys from their pages; every page works at phone width and loads nothing from elsewhere", async () => {
    const page = await desk.newPage();
    await signIn(page);

    // Consent: a bad number is refused next to its field; then record and revoke.
    await page.goto("/console/consent");
    await page.fill("#phoneNumber", "12");
    await submit(page, "button:has-text('Record consent')");
    expect(await textOf(page, "#phoneNumber-error")).toMatch(/E\.164|phone/i);
    await page.fill("#phoneNumber", "+14155550123");
    await page.selectOption("#verificationMethod", "voice");
    await submit(page, "button:has-text('Record consent')");
    expect(await textOf(page, ".notice.ok")).toContain("+14155550123");
    await submit(page, "button:has-text('Revoke')");
    expect(await textOf(page, ".notice.ok")).toContain("Revoked consent");
    expect(await page.locator("td .pill.bad").count()).toBe(1);
    await shoot(page, "consent", "desktop");

    // API keys: the secret is shown once, works, and stops working when revoked.
    await page.goto("/console/keys");
    await page.fill("#key-name", "CRM sync");
    await page.check("input[name=scopes][value='agents:read']");
    await submit(page, "button:has-text('Create key')");
    const secret = await textOf(page, "[data-testid=new-secret]");
    expect(secret).toMatch(/^sk_AYB-/);
    await shoot(page, "keys", "desktop");
    expect((await api().call("GET", "/v1/agents", secret)).status).toBe(200);
    await page.goto("/console/keys");
    expect(await page.content()).not.toContain(secret);
    await submit(page, "tr:has-text('CRM sync') button:has-text('Revoke')");
    expect(await textOf(page, ".notice.ok")).toContain("Revoked CRM sync");
    expect((await api().call("GET", "/v1/agents", secret)).status).toBe(401);

    // The owner adds a user, who can sign in.
    await page.goto("/console/account");
    await page.fill("#u-email", "mechanic@acme-bikes.example");
    await page.fill("#u-password", "spokes-and-chains");
    await submit(page, "button:has-text('Add user')");
    expect(await textOf(page, ".notice.ok")).toContain("can now sign in");
    await shoot(page, "team", "desktop");

    const phone = await phoneContext(browser, platform.edgeUrl);
    const phoneOrigins = recordOrigins(phone);
    const small = await phone.newPage();
    await signIn(small, "mechanic@acme-bikes.example", "spokes-and-chains");
    const calls = (await api().call("GET", "/v1/calls?limit=1", key())).body as { data: { id: string }[] };
    const pages = {
      agents: "/console/agents",
      agent: `/console/agents/${platform.tenant.agentId}`,
      numbers: "/console/numbers",
      calls: "/console/calls",
      call: `/console/calls/${calls.data[0]?.id}`,
      consent: "/console/consent",
      usage: "/console/usage",
    };
    for (const [name, url] of Object.entries(pages)) {
      for (const [p, width] of [
        [small, "phone"],
        [page, "desktop"],
      ] as const) {
        await p.goto(url);
        await p.waitForLoadState("networkidle");
        const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect.soft(overflow, `${name} at ${width} width scrolls sideways`).toBeLessThanOrEqual(0);
        if (width === "phone" || !["numbers", "calls", "consent"].includes(name)) await shoot(p, name, width);
      }
    }
    // A member cannot manage keys: the page says so instead of showing them.
    const refused = await small.goto("/console/keys");
    expect(refused?.status()).toBe(403);

    for (const seen of [origins, phoneOrigins]) expect([...seen]).toEqual([platform.edgeUrl]);
    await phone.close();
    await page.close();
  });

  test("the usage page draws calls, minutes and latency per day and per agent from GET /v1/usage's answer", async () => {
    // GET /v1/usage arrives with issue 13; until it is merged the page is drawn here from the answer it documents.
    const usage: Usage = {
      from: "2026-11-30",
      to: "2026-12-06",
      days: [
        {
          date: "2026-11-30",
          agentId: "agt_a",
          calls: 12,
          minutes: 30.5,
          latencyP50Ms: 610,
          latencyP95Ms: 980,
          costUsd: 2.1,
        },
        {
          date: "2026-12-01",
          agentId: "agt_a",
          calls: 20,
          minutes: 41,
          latencyP50Ms: 590,
          latencyP95Ms: 1020,
          costUsd: 3.4,
        },
        {
          date: "2026-12-01",
          agentId: "agt_b",
          calls: 5,
          minutes: 9,
          latencyP50Ms: 720,
          latencyP95Ms: 1300,
          costUsd: 0.9,
        },
        {
          date: "2026-12-03",
          agentId: "agt_b",
          calls: 8,
          minutes: 14.2,
          latencyP50Ms: 700,
          latencyP95Ms: null,
          costUsd: 1.2,
        },
        {
          date: "2026-12-06",
          agentId: "agt_a",
          calls: 3,
          minutes: 4,
          latencyP50Ms: 560,
          latencyP95Ms: 800,
          costUsd: 0.4,
        },
      ],
      totals: { calls: 48, minutes: 98.7, costUsd: 8 },
    };
    const names = { agt_a: "Front desk", agt_b: "Evening line" };
    const body = html`<h1>Usage</h1>${usageCharts(usage, names)}`;
    const markup = String(
      await layout({
        title: "Usage",
        section: "usage",
        user: { email: "demo@acme-bikes.example", accountName: "Acme Bikes", csrf: "-" },
        body,
      }),
    );
    for (const [context, width] of [
      [desk, "desktop"],
      [await phoneContext(browser, platform.edgeUrl), "phone"],
    ] as const) {
      const page = await context.newPage();
      await page.setContent(markup);
      expect(await page.locator("[data-chart]").count()).toBe(3);
      // One bar per agent and day with calls, in the calls chart and the minutes chart.
      expect(await page.locator("[data-chart=Calls] rect").count()).toBe(5);
      expect(await page.locator("[data-chart=Minutes] rect").count()).toBe(5);
      // p50 and p95 lines for each agent.
      expect(await page.locator("[data-chart=Latency] polyline").count()).toBe(4);
      expect(await textOf(page, "[data-total=calls]")).toBe("48");
      expect(await textOf(page, "tbody")).toContain("Evening line");
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await shoot(page, "usage-charts", width);
      await page.close();
      if (width === "phone") await context.close();
    }
  });

  // The page must show this platform's real calls, from the API's own GET /v1/usage.
  test("the usage page shows the account's own calls from GET /v1/usage", async () => {
    const page = await desk.newPage();
    await signIn(page);
    const res = await page.goto("/console/usage");
    expect(res?.status()).toBe(200);
    expect(await page.locator("[data-chart]").count()).toBe(3);
    expect(Number(await textOf(page, "[data-total=calls]"))).toBeGreaterThan(0);
    await page.close();
  });

  test("a tenant's own site embeds a call with a publishable key; a site not on the key's list is refused", async () => {
    const shop = await servePage((origin) => embedPage(platform.edgeUrl, origin));
    const elsewhere = await servePage((origin) => embedPage(platform.edgeUrl, origin));
    try {
      const created = await api().call("POST", "/v1/publishable-keys", key(), {
        agentId: platform.tenant.agentId,
        allowedOrigins: [shop.origin],
      });
      expect(created.status).toBe(201);
      const pk = (created.body as { key: string }).key;
      const context = await browser.newContext({ permissions: ["microphone"] });
      const page = await context.newPage();
      await page.goto(shop.origin);
      const callId = await page.evaluate(
        ([pkey, agentId]) =>
          (window as unknown as { startIt(k: string, a: string): Promise<string> }).startIt(pkey, agentId),
        [pk, platform.tenant.agentId] as const,
      );
      expect(callId).toMatch(/^call_/);
      await page.locator("#t li.assistant").first().waitFor({ timeout: 45_000 });
      await page.evaluate(() => (window as unknown as { call: { hangUp(): void } }).call.hangUp());

      const other = await context.newPage();
      await other.goto(elsewhere.origin);
      const refused = await other.evaluate(
        ([pkey, agentId]) =>
          (window as unknown as { startIt(k: string, a: string): Promise<string> }).startIt(pkey, agentId).then(
            () => "started",
            (e: Error) => e.message,
          ),
        [pk, platform.tenant.agentId] as const,
      );
      expect(refused).toBe(`This publishable key does not allow calls from ${elsewhere.origin}.`);
      await context.close();

      const stored = (await api().call("GET", `/v1/calls/${callId}`, key())).body as { direction: string; to: string };
      expect(stored).toMatchObject({ direction: "web", to: `site:${shop.origin}` });
    } finally {
      await shop.close();
      await elsewhere.close();
    }
  });
});
