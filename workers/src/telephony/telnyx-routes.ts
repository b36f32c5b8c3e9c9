// Telnyx Call Control, the same decision as Twilio's voice webhook in Telnyx's shape: events arrive as signed
// JSON webhooks and the answer is a REST command (answer with a media stream, or answer, speak and hang up).
// Telnyx retries webhooks that do not get a 2xx, so every accepted event gets 200 even when we act on nothing.
import { Hono } from "hono";
import type { CallControlEnv } from "../call-control-env.ts";
import { decideWithinBudget } from "./answer-budget.ts";
import { abandonInboundCall, decideInboundCall, type InboundDecision } from "./inbound.ts";
import { REFUSAL_REASONS, type RefusalReason, spokenRefusal } from "./refusals.ts";
import { decideAfterStreamEnd } from "./resume.ts";
import { resolveNumberRoute } from "./route-lookup.ts";
import { applyCarrierStatus } from "./status.ts";
import {
  answerForRefusal,
  answerWithStream,
  decodeClientState,
  encodeClientState,
  hangup,
  sendTelnyxCommand,
  speak,
  startStream,
  statusForHangupCause,
  TELNYX_SIGNATURE_HEADER,
  TELNYX_TIMESTAMP_HEADER,
  telnyxWebhookSchema,
  verifyTelnyxSignature,
} from "./telnyx.ts";
import type { TelephonyEnv } from "./twilio-routes.ts";
import { deferrer, edgeLocation } from "./webhook-request.ts";

export { DEFAULT_TELNYX_API_BASE } from "./telnyx.ts";

const send = sendTelnyxCommand;

/**
 * Answers a call only to speak its refusal (`call.answered` then speaks, `call.speak.ended` hangs up). If even
 * that answer fails, hangs up, so the caller is not left ringing; never throws.
 */
async function refuseAloud(
  env: CallControlEnv,
  callControlId: string,
  reason: RefusalReason,
  callId: string | undefined,
): Promise<{ action: "refuse" | "hangup"; reason: RefusalReason }> {
  const clientState = encodeClientState({ refusal: reason, ...(callId ? { callId } : {}) });
  try {
    await send(env, answerForRefusal(callControlId, clientState));
    return { action: "refuse", reason };
  } catch (error) {
    console.error("telnyx refusal answer failed; hanging up", { callControlId, error: String(error) });
  }
  try {
    await send(env, hangup(callControlId));
  } catch (error) {
    console.error("telnyx hangup failed", { callControlId, error: String(error) });
  }
  return { action: "hangup", reason };
}

const isRefusal = (value: string | undefined): value is RefusalReason =>
  value !== undefined && (REFUSAL_REASONS as readonly string[]).includes(value);

export const telnyxRoutes = new Hono<TelephonyEnv>();

telnyxRoutes.post("/telephony/telnyx/voice", async (c) => {
  const publicKey = c.env.TELNYX_PUBLIC_KEY;
  if (!publicKey) return c.text("Telnyx webhooks are not configured", 503);
  const rawBody = await c.req.text();
  const verdict = await verifyTelnyxSignature({
    publicKey,
    rawBody,
    signature: c.req.header(TELNYX_SIGNATURE_HEADER) ?? null,
    timestamp: c.req.header(TELNYX_TIMESTAMP_HEADER) ?? null,
    nowMs: Date.now(),
  });
  if (!verdict.ok) return c.json({ error: `signature ${verdict.reason}` }, 403);
  let json: unknown;
  try {
    json = JSON.parse(rawBody);
  } catch {
    return c.text("Not JSON", 400);
  }
  const parsed = telnyxWebhookSchema.safeParse(json);
  if (!parsed.success) return c.json({ ignored: true });
  const { event_type: type, id: eventId, payload } = parsed.data.data;
  const state = decodeClientState(payload.client_state);
  const callControlId = payload.call_control_id;

  try {
    if (type === "call.initiated" && payload.direction === "incoming") {
      const defer = deferrer(c);
      const decided = await decideWithinBudget(
        (async () => {
          const route = await resolveNumberRoute({ env: c.env, requestDb: c.var.db, defer }, payload.to);
          return decideInboundCall(
            c.env,
            {
              provider: "telnyx",
              carrierCallId: callControlId,
              to: payload.to,
              from: payload.from,
              replayKey: `telnyx-event:${eventId}`,
              cf: edgeLocation(c.req.raw),
            },
            route,
          );
        })(),
        { defer, abandon: (callId) => abandonInboundCall(c.env, callId, "unavailable: answered too late") },
      ).catch((error: unknown) => {
        // decideInboundCall gave back any lease it took; the caller still hears why the call ends.
        console.error("telnyx call.initiated: decision failed", { callControlId, error: String(error) });
        return "failed" as const;
      });
      const decision: InboundDecision =
        decided === "late" || decided === "failed" ? { kind: "refuse", reason: "unavailable" } : decided;
      if (decision.kind === "replay") return c.json({ error: "replayed event" }, 403);
      if (decision.kind === "stream") {
        const clientState = encodeClientState({ callId: decision.callId, token: decision.token });
        try {
          await send(c.env, answerWithStream(callControlId, { url: decision.streamUrl, clientState }));
          return c.json({ action: "stream", callId: decision.callId });
        } catch (error) {
          // Telnyx's retry of this event would be refused as a replay (and the call's session already exists),
          // so nothing would ever answer it: give the lease back now, end the record, apologise, and say 200.
          console.error("telnyx answer failed", { callControlId, callId: decision.callId, error: String(error) });
          await abandonInboundCall(c.env, decision.callId, "unavailable: carrier refused to answer").catch(
            (failure: unknown) =>
              // The lease then expires by the limiter's alarm; the caller must still hear something.
              console.error("telnyx: could not abandon the call", { callId: decision.callId, error: String(failure) }),
          );
          return c.json(await refuseAloud(c.env, callControlId, "unavailable", decision.callId));
        }
      }
      return c.json(await refuseAloud(c.env, callControlId, decision.reason, decision.callId));
    }
    if (type === "call.answered" && isRefusal(state.refusal)) {
      await send(c.env, speak(callControlId, spokenRefusal(state.refusal), payload.client_state ?? ""));
      return c.json({ action: "speak" });
    }
    if (type === "call.speak.ended" && isRefusal(state.refusal)) {
      await send(c.env, hangup(callControlId));
      return c.json({ action: "hangup" });
    }
    if (type === "streaming.stopped" || type === "streaming.failed") {
      // The stream to the media node ended. Over → make sure the call is hung up; live → the node was lost, and the
      // call streams to another one, which resumes the conversation from its checkpoint.
      const decision = await decideAfterStreamEnd(c.env, {
        provider: "telnyx",
        carrierCallId: callControlId,
        callId: state.callId,
        // The stream the event is about (client_state as the edge last set it; Telnyx signs the event).
        stream: state.stream !== undefined && /^\d{1,3}$/.test(state.stream) ? Number(state.stream) : undefined,
        replayKey: `telnyx-event:${eventId}`,
      });
      if (decision.kind === "replay") return c.json({ error: "replayed event" }, 403);
      if (decision.kind === "stream") {
        const clientState = encodeClientState({
          callId: decision.callId,
          token: decision.token,
          stream: String(decision.resume),
        });
        await send(c.env, startStream(callControlId, { url: decision.streamUrl, clientState }));
        return c.json({ action: "resume", callId: decision.callId, nodeId: decision.nodeId });
      }
      // The call is over on our side (normally, or lost with nowhere to go): the carrier's call must end too.
      await send(c.env, hangup(callControlId)).catch((error: unknown) =>
        // Usually the call is already gone; Telnyx says so with an error.
        console.warn("telnyx hangup after stream end failed", { callControlId, error: String(error) }),
      );
      return c.json({ action: "hangup" });
    }
    if (type === "call.hangup") {
      const outcome = await applyCarrierStatus(c.env, {
        provider: "telnyx",
        carrierCallId: callControlId,
        status: statusForHangupCause(payload.hangup_cause),
        callId: state.callId,
      });
      return c.json({ outcome });
    }
  } catch (error) {
    console.error("telnyx webhook failed", { type, callControlId, error: String(error) });
    // Later events (speak, hangup, call records) are not replay-keyed, so Telnyx's retry can still complete them.
    return c.json({ error: "internal" }, 500);
  }
  return c.json({ ignored: true });
});
