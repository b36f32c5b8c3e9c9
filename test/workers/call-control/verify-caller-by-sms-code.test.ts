import { and, eq } from "drizzle-orm";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { accountIdFromData, newAccountId, spellIdForSpeech } from "../../../shared/ids.ts";
import { accounts, apiKeys, auditLog, verifications } from "../../../workers/src/db/schema.ts";
import { mintApiKey } from "../../../workers/src/lib/api-key.ts";
import { newResourceId } from "../../../workers/src/lib/ids.ts";
import { auditActions, call, signUp, type Tenant, withDb } from "../helpers.ts";
import { type FakeCarriers, fakeCarriers } from "./fake-carriers.ts";
import { randomNumber, testBindings } from "./fixtures.ts";

type Verification = { id: string; status: string; sentTo?: string; attemptsLeft: number; accountId: string };
type Problem = { type: string; detail: string };

// The support line's account: the one SUPPORT_TENANT_IDS names in vitest.workers.config.ts.
const SUPPORT_ID = accountIdFromData("SPPQRT23456");
let supportKey: string;
let carriers: FakeCarriers;

beforeAll(async () => {
  expect(testBindings.SUPPORT_TENANT_IDS).toBe(SUPPORT_ID);
  const minted = await mintApiKey(SUPPORT_ID);
  await withDb(async (db) => {
    await db
      .insert(accounts)
      .values({ id: SUPPORT_ID, name: "AYBIZA Support", jurisdiction: "us" })
      .onConflictDoNothing();
    await db.insert(apiKeys).values({
      tenantId: SUPPORT_ID,
      id: newResourceId("key"),
      name: "support agent",
      prefix: minted.prefix,
      keyHash: minted.hash,
      scopes: ["*"],
    });
  });
  supportKey = minted.key;
  const number = randomNumber("+1800");
  const r = await call("POST", "/v1/phone-numbers", { key: supportKey, body: { e164: number, provider: "twilio" } });
  expect(r.status).toBe(201);
});
beforeEach(() => {
  carriers = fakeCarriers();
});
afterEach(() => carriers.restore());

async function customer(ownerPhone = "+14155550170"): Promise<Tenant> {
  const r = await call<{ account: { id: string }; user: { id: string }; apiKey: { id: string; key: string } }>(
    "POST",
    "/v1/accounts",
    {
      body: { name: "Customer", email: `c-${crypto.randomUUID()}@example.com`, ownerPhone },
    },
  );
  return { accountId: r.body.account.id, userId: r.body.user.id, key: r.body.apiKey.key, keyId: r.body.apiKey.id };
}

const start = (accountId: string, key = supportKey) =>
  call<Verification & Problem>("POST", "/v1/verify", { key, body: { accountId } });
const check = (id: string, code: string, key = supportKey) =>
  call<Verification & Problem>("POST", `/v1/verify/${id}/check`, { key, body: { code } });
const sentCode = () => /\b(\d{6})\b/.exec(carriers.requests.at(-1)?.form.get("Body") ?? "")?.[1] ?? "";

describe("support-call verification", () => {
  it("texts a code to the owner of the account the caller read out, and verifies it read back", async () => {
    const owner = await customer("+14155550171");
    const spoken = spellIdForSpeech(owner.accountId as never, { phonetic: true });
    const started = await start(spoken);
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({
      status: "pending",
      accountId: owner.accountId,
      sentTo: "+1••••••0171",
      attemptsLeft: 5,
    });
    const text = carriers.requests.at(-1);
    expect(text?.path).toMatch(/\/Messages\.json$/);
    expect(text?.form.get("To")).toBe("+14155550171");
    const code = sentCode();
    expect(code).toMatch(/^\d{6}$/);

    const [row] = await withDb((db) => db.select().from(verifications).where(eq(verifications.id, started.body.id)));
    expect(row?.codeHash).not.toContain(code);

    const wrong = code === "000000" ? "111111" : "000000";
    expect((await check(started.body.id, wrong)).body).toMatchObject({ status: "incorrect", attemptsLeft: 4 });
    const spokenCode = code.split("").join(" ");
    expect((await check(started.body.id, spokenCode)).body).toMatchObject({ status: "verified" });
    expect((await check(started.body.id, code)).body).toMatchObject({ status: "already-verified" });
    expect(await auditActions(SUPPORT_ID)).toEqual(
      expect.arrayContaining(["verification.start", "verification.incorrect", "verification.verified"]),
    );
  });

  it("rejects an ID with a wrong check character before any lookup or text", async () => {
    const owner = await customer();
    const last = owner.accountId.at(-1) === "2" ? "3" : "2";
    const misheard = `${owner.accountId.slice(0, -1)}${last}`;
    const r = await start(misheard);
    expect(r.status).toBe(422);
    expect(r.body.detail).toMatch(/misheard|doesn't add up/);
    expect(carriers.requests).toEqual([]);
  });

  it("locks after five wrong codes, audits the lockout, and stays locked for the right one", async () => {
    const owner = await customer();
    const started = await start(owner.accountId);
    const code = sentCode();
    const wrong = code === "999999" ? "888888" : "999999";
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) outcomes.push((await check(started.body.id, wrong)).body.status);
    expect(outcomes).toEqual(["incorrect", "incorrect", "incorrect", "incorrect", "locked"]);
    expect((await check(started.body.id, code)).body.status).toBe("locked");
    expect(await auditActions(SUPPORT_ID)).toContain("verification.locked");
  });

  it("expires a code after five minutes", async () => {
    const owner = await customer();
    const started = await start(owner.accountId);
    const code = sentCode();
    await withDb((db) =>
      db
        .update(verifications)
        .set({ expiresAt: new Date(Date.now() - 1_000) })
        .where(and(eq(verifications.tenantId, SUPPORT_ID), eq(verifications.id, started.body.id))),
    );
    expect((await check(started.body.id, code)).body.status).toBe("expired");
    expect(await auditActions(SUPPORT_ID)).toContain("verification.expired");
  });

  it("does not count a read-back that is not six digits", async () => {
    const owner = await customer();
    const started = await start(owner.accountId);
    expect((await check(started.body.id, "four eight banana")).body).toMatchObject({
      status: "unreadable",
      attemptsLeft: 5,
    });
  });

  it("lets an ordinary account verify only its own owner", async () => {
    const other = await customer("+14155550172");
    const tenant = await signUp("Not a support line");
    const agentless = await call("POST", "/v1/phone-numbers", {
      key: tenant.key,
      body: { e164: randomNumber("+1213"), provider: "twilio" },
    });
    expect(agentless.status).toBe(201);
    expect((await start(other.accountId, tenant.key)).status).toBe(404);
    expect(carriers.requests).toEqual([]);
  });
});

/** The audit entries about one target (an account, a verification, or an ID as heard), oldest first. */
async function auditedAbout(tenantId: string, targetId: string): Promise<string[]> {
  const rows = await withDb((db) =>
    db
      .select({ action: auditLog.action })
      .from(auditLog)
      .where(and(eq(auditLog.tenantId, tenantId), eq(auditLog.targetId, targetId)))
      .orderBy(auditLog.at, auditLog.id),
  );
  return rows.map((row) => row.action);
}

describe("every verification outcome is audited", () => {
  it("a start refused for an ID that does not parse, kept as heard", async () => {
    const heard = "A Y B dash nothing like an ID";
    expect((await start(heard)).status).toBe(422);
    expect(await auditedAbout(SUPPORT_ID, heard)).toEqual(["verification.unparseable-account-id"]);
  });

  it("a start refused for an account that does not exist", async () => {
    const nobody = newAccountId();
    expect((await start(nobody)).status).toBe(404);
    expect(await auditedAbout(SUPPORT_ID, nobody)).toEqual(["verification.unknown-account"]);
  });

  it("another tenant's account is audited exactly like one that does not exist", async () => {
    const other = await customer("+14155550173");
    const tenant = await signUp("Curious tenant");
    const nobody = newAccountId();
    expect((await start(other.accountId, tenant.key)).status).toBe(404);
    expect((await start(nobody, tenant.key)).status).toBe(404);
    expect(await auditedAbout(tenant.accountId, other.accountId)).toEqual(["verification.unknown-account"]);
    expect(await auditedAbout(tenant.accountId, nobody)).toEqual(["verification.unknown-account"]);
  });

  it("a start refused for an account with no phone, with no number to send from, or when the text fails", async () => {
    const phoneless = await signUp("No phone on file");
    expect((await start(phoneless.accountId)).status).toBe(422);
    expect(await auditedAbout(SUPPORT_ID, phoneless.accountId)).toEqual(["verification.no-phone-on-file"]);

    const owner = await customer("+14155550174");
    const notOurs = await call<Problem>("POST", "/v1/verify", {
      key: supportKey,
      body: { accountId: owner.accountId, from: "+15005550123" },
    });
    expect(notOurs.status).toBe(422);
    carriers.failTwilio(400, 21211, "The 'To' number is not a valid phone number.");
    expect((await start(owner.accountId)).status).toBe(502);
    expect(await auditedAbout(SUPPORT_ID, owner.accountId)).toEqual([
      "verification.no-sender",
      "verification.sms-failed",
    ]);
  });

  it("a start, each kind of read-back, and a check of a verification that does not exist", async () => {
    const owner = await customer("+14155550175");
    const first = await start(owner.accountId);
    const code = sentCode();
    const wrong = code === "000000" ? "111111" : "000000";
    await check(first.body.id, "banana");
    await check(first.body.id, wrong);
    await check(first.body.id, code);
    await check(first.body.id, code);

    const second = await start(owner.accountId);
    for (let i = 0; i < 5; i++) await check(second.body.id, wrong);

    const third = await start(owner.accountId);
    await withDb((db) =>
      db
        .update(verifications)
        .set({ expiresAt: new Date(Date.now() - 1_000) })
        .where(and(eq(verifications.tenantId, SUPPORT_ID), eq(verifications.id, third.body.id))),
    );
    await check(third.body.id, sentCode());

    expect(await auditedAbout(SUPPORT_ID, owner.accountId)).toEqual([
      "verification.start",
      "verification.unreadable",
      "verification.incorrect",
      "verification.verified",
      "verification.already-verified",
      "verification.start",
      ...Array(4).fill("verification.incorrect"),
      "verification.locked",
      "verification.start",
      "verification.expired",
    ]);

    const unknown = newResourceId("ver");
    expect((await check(unknown, "123456")).status).toBe(404);
    // Nothing of this tenant's was checked, so nothing is recorded (another tenant's ID must change nothing).
    expect(await auditedAbout(SUPPORT_ID, unknown)).toEqual([]);
  });
});
