import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditActions, call, type Tenant } from "../helpers.ts";
import { type FakeCarriers, fakeCarriers } from "./fake-carriers.ts";
import { inboundSms, signLikeTwilio, tenantWithNumber, testBindings, twilioPost } from "./fixtures.ts";

type Consent = { id: string; status: string; optedInAt: string | null; revokedAt: string | null };

let carriers: FakeCarriers;
beforeEach(() => {
  carriers = fakeCarriers();
});
afterEach(() => carriers.restore());

const consentOf = async (t: Tenant, id: string) =>
  (await call<Consent>("GET", `/v1/consent/${id}`, { key: t.key })).body;

describe("SMS consent", () => {
  it("starts pending and texts the person, becomes active on YES, and is revoked by STOP", async () => {
    const { t, number } = await tenantWithNumber("Opt-in Co");
    const person = "+13055550160";
    const created = await call<Consent>("POST", "/v1/consent", {
      key: t.key,
      body: { phoneNumber: person, type: "marketing", verificationMethod: "sms" },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: "pending", optedInAt: null });
    const [text] = carriers.requests;
    expect(text?.path).toBe(`/2010-04-01/Accounts/${testBindings.TWILIO_ACCOUNT_SID}/Messages.json`);
    expect(text?.form.get("To")).toBe(person);
    expect(text?.form.get("From")).toBe(number);
    expect(text?.form.get("Body")).toMatch(/reply YES/i);

    const yes = await twilioPost("/v1/telephony/twilio/sms", inboundSms(person, number, "Yes"));
    expect(yes.status).toBe(200);
    expect(yes.body).toContain("<Message>");
    expect(await consentOf(t, created.body.id)).toMatchObject({ status: "active" });
    expect((await consentOf(t, created.body.id)).optedInAt).not.toBeNull();

    const stop = await twilioPost("/v1/telephony/twilio/sms", inboundSms(person, number, "STOP"));
    expect(stop.status).toBe(200);
    expect(await consentOf(t, created.body.id)).toMatchObject({ status: "revoked" });
    expect(await auditActions(t.accountId)).toEqual(
      expect.arrayContaining(["consent.create", "consent.confirm", "consent.revoke"]),
    );
  });

  it("ignores a YES from a number with nothing pending, and other words", async () => {
    const { t, number } = await tenantWithNumber("Opt-in Co");
    const person = "+13055550161";
    const checkbox = await call<Consent>("POST", "/v1/consent", {
      key: t.key,
      body: { phoneNumber: person, type: "service", verificationMethod: "checkbox" },
    });
    const reply = await twilioPost("/v1/telephony/twilio/sms", inboundSms(person, number, "maybe later"));
    expect(reply.body).not.toContain("<Message>");
    expect(await consentOf(t, checkbox.body.id)).toMatchObject({ status: "active" });
  });

  it("refuses a replayed message and a bad signature with 403", async () => {
    const { number } = await tenantWithNumber("Opt-in Co");
    const message = inboundSms("+13055550162", number, "STOP");
    expect((await twilioPost("/v1/telephony/twilio/sms", message)).status).toBe(200);
    expect((await twilioPost("/v1/telephony/twilio/sms", message)).status).toBe(403);
    const forged = await signLikeTwilio("wrong", "https://edge.test/v1/telephony/twilio/sms", message);
    expect(
      (
        await twilioPost(
          "/v1/telephony/twilio/sms",
          { ...message, MessageSid: `SM${"a".repeat(32)}` },
          { signature: forged },
        )
      ).status,
    ).toBe(403);
  });
});
