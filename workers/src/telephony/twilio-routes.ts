// Twilio's webhooks: the voice URL (inbound calls, and outbound calls when the callee answers), call status
// callbacks and inbound SMS. Each one is signature-checked before anything is read from it.
//
// The voice webhook answers 200 with TwiML in every case a caller could be listening to (including our own
// failures: a spoken apology beats Twilio's "application error"), and 403 only to requests that are not
// Twilio's (bad signature) or that Twilio already sent (replays).
import { and, eq, inArray } from "drizzle-orm";
import { Hono } from "hono";
import { isResourceId } from "../../../shared/ids.ts";
import { validateTwilioSignature } from "../../../shared/twilio-signature.ts";
import type { CallControlEnv } from "../call-control-env.ts";
import { consentRecords, type Jurisdiction } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import { LOST_CALL_SPEECH } from "../do/call-ledger/lost-call.ts";
import { publishEvent } from "../events/publish.ts";
import { decideOutboundAnswer } from "../outbound/answer.ts";
import { applyConsentReply, CONFIRMED_REPLY } from "../outbound/sms-consent.ts";
import { withEveryDatabase, withJurisdictionDatabase } from "../residency/databases.ts";
import { namespaceFor } from "../residency/residency.ts";
import { decideWithinBudget } from "./answer-budget.ts";
import { abandonInboundCall, decideInboundCall, type InboundDecision } from "./inbound.ts";
import { lookupNumber } from "./number-routes.ts";
import { spokenRefusal } from "./refusals.ts";
import { decideAfterStreamEnd } from "./resume.ts";
import { resolveNumberRoute } from "./route-lookup.ts";
import { applyCarrierStatus } from "./status.ts";
import {
  firstValues,
  parseTwilioForm,
  type TwilioForm,
  twilioInboundSmsSchema,
  twilioRedirectSchema,
  twilioStatusCallbackSchema,
  twilioVoiceWebhookSchema,
} from "./twilio-webhooks.ts";
import { connectStreamTwiml, emptyTwiml, hangUpTwiml, messageTwiml, sayAndHangUpTwiml } from "./twiml.ts";
import { deferrer, edgeLocation, signedUrlCandidates, xml } from "./webhook-request.ts";

export type TelephonyEnv = { Bindings: CallControlEnv; Variables: { db: Db; requestId: string } };

const forbidden = (detail: string) =>
  new Response(
    JSON.stringify({ type: "https://aybiza.dev/problems/forbidden", title: "Forbidden", status: 403, detail }),
    {
      status: 403,
      headers: { "content-type": "application/problem+json" },
    },
  );

/** Reads and authenticates a Twilio webhook; a Response when it must be refused. */
async function readSigned(
  request: Request,
  env: CallControlEnv,
): Promise<{ form: TwilioForm; signature: string } | Response> {
  const authToken = env.TWILIO_AUTH_TOKEN;
  if (!authToken) {
    console.error("twilio webhook: TWILIO_AUTH_TOKEN is not set; refusing every webhook");
    return new Response("Twilio webhooks are not configured", { status: 503 });
  }
  // Decoded by hand: the body is form-encoded text, and Request.text() warns about that content type in workerd.
  const body = new TextDecoder().decode(await request.arrayBuffer());
  const form = parseTwilioForm(body);
  const signature = request.headers.get("x-twilio-signature") ?? "";
  for (const url of signedUrlCandidates(request, env.PUBLIC_BASE_URL)) {
    if (await validateTwilioSignature(authToken, signature, url, form)) return { form, signature };
  }
  return forbidden("X-Twilio-Signature does not match this request.");
}

/**
 * Where Twilio goes when a call's stream ends: the edge's redirect handler, with our call ID and which of the call's
 * streams it is (0: the first; n: the one after the n-th move). The public base URL when one is configured (what
 * Twilio reaches us at, behind a proxy), else the origin this request came to. Twilio signs the URL with every
 * request, so the stream cannot be altered, and the call's ledger accepts each stream's end once: a replayed
 * redirect finds the call on a later stream and moves nothing.
 */
export function streamEndUrl(request: Request, env: CallControlEnv, callId: string, stream: number): string {
  const base = (env.PUBLIC_BASE_URL ?? new URL(request.url).origin).replace(/\/$/, "");
  return `${base}/v1/telephony/twilio/redirect?callId=${encodeURIComponent(callId)}&stream=${stream}`;
}

export function answerTwiml(decision: InboundDecision, redirectUrl?: string): Response {
  switch (decision.kind) {
    case "stream":
      return xml(
        connectStreamTwiml({
          url: decision.streamUrl,
          parameters: { token: decision.token, callId: decision.callId },
          redirectUrl,
        }),
      );
    case "refuse":
      return xml(sayAndHangUpTwiml(spokenRefusal(decision.reason)));
    case "replay":
      return forbidden("This webhook was already received.");
  }
}

export const twilioRoutes = new Hono<TelephonyEnv>();

twilioRoutes.post("/telephony/twilio/voice", async (c) => {
  const signed = await readSigned(c.req.raw, c.env);
  if (signed instanceof Response) return signed;
  const parsed = twilioVoiceWebhookSchema.safeParse(firstValues(signed.form));
  if (!parsed.success) return c.text("Not a Twilio voice webhook", 400);
  const hook = parsed.data;
  const replayKey = `twilio-voice:${hook.CallSid}:${signed.signature}`;
  const cf = edgeLocation(c.req.raw);
  try {
    const outboundCallId = c.req.query("callId");
    if (outboundCallId !== undefined) {
      if (!isResourceId("call", outboundCallId)) return xml(sayAndHangUpTwiml(spokenRefusal("not-in-service")));
      return answerTwiml(
        await decideOutboundAnswer(c.env, { callId: outboundCallId, callSid: hook.CallSid, replayKey, cf }),
        streamEndUrl(c.req.raw, c.env, outboundCallId, 0),
      );
    }
    const defer = deferrer(c);
    const decision = await decideWithinBudget(
      (async () => {
        const route = await resolveNumberRoute({ env: c.env, requestDb: c.var.db, defer }, hook.To);
        return decideInboundCall(
          c.env,
          { provider: "twilio", carrierCallId: hook.CallSid, to: hook.To, from: hook.From, replayKey, cf },
          route,
        );
      })(),
      { defer, abandon: (callId) => abandonInboundCall(c.env, callId, "unavailable: answered too late") },
    );
    if (decision === "late") {
      console.error("twilio voice webhook: no decision within budget", { callSid: hook.CallSid });
      return xml(sayAndHangUpTwiml(spokenRefusal("unavailable")));
    }
    return answerTwiml(
      decision,
      decision.kind === "stream" ? streamEndUrl(c.req.raw, c.env, decision.callId, 0) : undefined,
    );
  } catch (error) {
    // The message only: a failed query's text carries its parameters (the caller's number).
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    console.error("twilio voice webhook failed", { callSid: hook.CallSid, error: reason });
    return xml(sayAndHangUpTwiml(spokenRefusal("unavailable")));
  }
});

// Twilio runs the <Redirect> after <Connect><Stream> when the stream ends: the agent ended the call (hang up), or the
// call's media node was lost (a new stream to another node, which resumes the conversation).
twilioRoutes.post("/telephony/twilio/redirect", async (c) => {
  const signed = await readSigned(c.req.raw, c.env);
  if (signed instanceof Response) return signed;
  const parsed = twilioRedirectSchema.safeParse(firstValues(signed.form));
  if (!parsed.success) return c.text("Not a Twilio call request", 400);
  const callId = c.req.query("callId");
  if (callId !== undefined && !isResourceId("call", callId)) return xml(hangUpTwiml());
  // Absent only in TwiML given out before redirects named their stream.
  const streamParam = c.req.query("stream");
  if (streamParam !== undefined && !/^\d{1,3}$/.test(streamParam)) return xml(hangUpTwiml());
  try {
    const decision = await decideAfterStreamEnd(c.env, {
      provider: "twilio",
      carrierCallId: parsed.data.CallSid,
      callId,
      stream: streamParam === undefined ? undefined : Number(streamParam),
      cf: edgeLocation(c.req.raw),
    });
    if (decision.kind === "hangup" || decision.kind === "replay") return xml(hangUpTwiml());
    if (decision.kind === "give-up") return xml(sayAndHangUpTwiml(LOST_CALL_SPEECH));
    return xml(
      connectStreamTwiml({
        url: decision.streamUrl,
        parameters: { token: decision.token, callId: decision.callId },
        redirectUrl: streamEndUrl(c.req.raw, c.env, decision.callId, decision.resume),
      }),
    );
  } catch (error) {
    console.error("twilio redirect failed", { callSid: parsed.data.CallSid, error: String(error) });
    return xml(sayAndHangUpTwiml(LOST_CALL_SPEECH));
  }
});

twilioRoutes.post("/telephony/twilio/status", async (c) => {
  const signed = await readSigned(c.req.raw, c.env);
  if (signed instanceof Response) return signed;
  const parsed = twilioStatusCallbackSchema.safeParse(firstValues(signed.form));
  if (!parsed.success) return c.text("Not a Twilio status callback", 400);
  const callId = c.req.query("callId");
  if (callId !== undefined && !isResourceId("call", callId)) return c.text("Unknown call", 400);
  const outcome = await applyCarrierStatus(c.env, {
    provider: "twilio",
    carrierCallId: parsed.data.CallSid,
    status: parsed.data.CallStatus,
    callId,
  });
  // Twilio ignores the body of a status callback; the outcome helps whoever reads the logs or the tests.
  return c.json({ outcome });
});

twilioRoutes.post("/telephony/twilio/sms", async (c) => {
  const signed = await readSigned(c.req.raw, c.env);
  if (signed instanceof Response) return signed;
  const parsed = twilioInboundSmsSchema.safeParse(firstValues(signed.form));
  if (!parsed.success) return c.text("Not a Twilio SMS webhook", 400);
  const sms = parsed.data;
  const route = await withEveryDatabase(c.env, c.var.db, (dbs) => lookupNumber(dbs, sms.To));
  if (!route) return xml(emptyTwiml());
  const limiter = namespaceFor(c.env.TENANT_LIMITER, c.env, route.jurisdiction).getByName(route.tenantId);
  // Remembered for good, not for a window: an old signed YES replayed later must not confirm a consent created
  // since (Twilio's signature has no timestamp to expire it).
  if (!(await limiter.firstMessage(sms.MessageSid))) return forbidden("This message was already received.");
  let outcome: Awaited<ReturnType<typeof applyConsentReply>>;
  try {
    outcome = await withJurisdictionDatabase(c.env, c.var.db, route.jurisdiction, (db) =>
      applyConsentReply(db, {
        tenantId: route.tenantId,
        phoneNumber: sms.From,
        body: sms.Body,
        requestId: c.var.requestId,
      }),
    );
  } catch (error) {
    // Nothing changed (the reply is one transaction): Twilio's retry of this message must not count as a replay.
    await limiter.forgetMessage(sms.MessageSid).catch(() => undefined);
    throw error;
  }
  if (outcome.intent === "opt-out" && outcome.revoked.length > 0) {
    await publishRevocations(c.env, c.var.db, route, outcome.revoked).catch((error: unknown) =>
      console.warn("consent.revoked events not sent", { error: String(error) }),
    );
  }
  // Twilio answers STOP itself (Advanced Opt-Out) and blocks replies after it; only a YES gets our reply.
  if (outcome.intent === "opt-in" && outcome.confirmed.length > 0) return xml(messageTwiml(CONFIRMED_REPLY));
  return xml(emptyTwiml());
});

/** One `consent.revoked` event per record a STOP revoked (after its transaction committed). */
async function publishRevocations(
  env: CallControlEnv,
  requestDb: Db,
  route: { tenantId: string; jurisdiction: Jurisdiction },
  ids: string[],
): Promise<void> {
  const rows = await withJurisdictionDatabase(env, requestDb, route.jurisdiction, (db) =>
    db
      .select()
      .from(consentRecords)
      .where(and(eq(consentRecords.tenantId, route.tenantId), inArray(consentRecords.id, ids))),
  );
  for (const row of rows) {
    await publishEvent(env, { id: route.tenantId, jurisdiction: route.jurisdiction }, "consent.revoked", {
      consentId: row.id,
      phoneNumber: row.phoneNumber,
      type: row.type,
      revokedAt: (row.revokedAt ?? new Date()).toISOString(),
      via: "sms",
    });
  }
}
