// The edge side of the built-in tools (shared/call-actions.ts): what a media node may ask for on a live call, checked
// against what the edge itself knows (the call's tenant, number and carrier, and the agent version it was routed
// with), carried out with the edge's carrier credentials, and audited in the tenant's log. The node's word is taken
// for nothing but the arguments the model gave.
import { and, asc, eq, isNull } from "drizzle-orm";
import type { AgentRuntimeConfig, BuiltinTool, ToolDefinition } from "../../../shared/agent-config.ts";
import type { CallActionRequest, CallActionResult } from "../../../shared/call-actions.ts";
import type { CallControlEnv } from "../call-control-env.ts";
import { agents, agentVersions, phoneNumbers } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import type { CallLedger, SessionSnapshot } from "../do/call-ledger/call-ledger.ts";
import type { CallRecord } from "../do/call-ledger/records.ts";
import { type AuditEntry, writeAudit } from "../lib/audit.ts";
import { compileVersion, runtimeConfigFromVersion } from "../prefix/runtime-config.ts";
import { findAgentVersion } from "../prefix/store.ts";
import { withJurisdictionDatabase } from "../residency/databases.ts";
import { sendTwilioSms, twilioCredentials } from "../telephony/twilio-rest.ts";
import { CODE_TTL_MS, MAX_ATTEMPTS } from "../verify/codes.ts";
import { checkVerification, startVerification, verifiableAccounts } from "../verify/service.ts";

/** Per call: enough for a real conversation, too few to turn one call into a spam or code-guessing run. */
export const PER_CALL_LIMITS = { send_sms: 5, start_verification: 3 } as const;

export type ActionOutcome =
  | { ok: true; result: CallActionResult }
  | { ok: false; status: number; slug: ActionProblem; detail: string };

type ActionProblem =
  | "not-allowed"
  | "not-supported"
  | "not-found"
  | "unprocessable"
  | "conflict"
  | "carrier-error"
  | "too-many";

const refuse = (status: number, slug: ActionProblem, detail: string): ActionOutcome => ({
  ok: false,
  status,
  slug,
  detail,
});

export interface ActionContext {
  env: CallControlEnv;
  requestDb: Db;
  session: DurableObjectStub<CallLedger>;
  snapshot: SessionSnapshot;
}

/** The person on the other end, and the tenant's number the call is on. */
function parties(record: CallRecord): { caller: string; ours: string } {
  return record.direction === "inbound"
    ? { caller: record.fromNumber, ours: record.toNumber }
    : { caller: record.toNumber, ours: record.fromNumber };
}

async function agentConfig(ctx: ActionContext, db: Db): Promise<AgentRuntimeConfig | undefined> {
  const { tenantId } = ctx.snapshot.record;
  // After a handoff the call belongs to the agent it was handed to: its tools and allow lists apply.
  const handedTo = ctx.snapshot.handoffs?.at(-1);
  const { agentId, agentVersion } = handedTo?.agentVersion ? handedTo : ctx.snapshot.record;
  if (!agentId || agentVersion == null) return undefined;
  const row = await findAgentVersion(db, tenantId, agentId, agentVersion);
  return row ? runtimeConfigFromVersion(row) : undefined;
}

async function auditAction(db: Db, record: CallRecord, entry: AuditEntry): Promise<void> {
  // The platform acted on the call's behalf; the call is the actor a person can look up.
  await writeAudit(db, { tenantId: record.tenantId, type: "system", id: record.callId }, entry);
}

export async function performCallAction(ctx: ActionContext, request: CallActionRequest): Promise<ActionOutcome> {
  const record = ctx.snapshot.record;
  return withJurisdictionDatabase(ctx.env, ctx.requestDb, record.jurisdiction, async (db) => {
    const config = await agentConfig(ctx, db);
    if (!config) return refuse(409, "conflict", "The call has no agent version on record.");
    const tool: ToolDefinition | undefined = config.tools.find((t) => t.builtin === (request.type as BuiltinTool));
    if (!tool) return refuse(403, "not-allowed", `This agent has no ${request.type} tool.`);
    switch (request.type) {
      case "transfer_call":
        return transfer(ctx, db, tool, request);
      case "send_sms":
        return sms(ctx, db, tool, request);
      case "start_verification":
        return startCheck(ctx, db, request);
      case "check_verification":
        return check(ctx, db, request);
      case "handoff_to_agent":
        return handoff(ctx, db, tool, request);
    }
  });
}

async function transfer(
  ctx: ActionContext,
  db: Db,
  tool: ToolDefinition,
  request: Extract<CallActionRequest, { type: "transfer_call" }>,
): Promise<ActionOutcome> {
  const record = ctx.snapshot.record;
  const allowed = tool.allow?.numbers ?? [];
  if (allowed.length === 0) return refuse(403, "not-allowed", "No transfer numbers are configured for this agent.");
  const to = request.to ?? allowed[0]!;
  if (!allowed.includes(to)) {
    return refuse(403, "not-allowed", `${to} is not one of the numbers this agent may transfer calls to.`);
  }
  if (record.provider !== "twilio" || !record.providerCallSid) {
    return refuse(422, "not-supported", "This call cannot be transferred (only Twilio phone calls can).");
  }
  if (!twilioCredentials(ctx.env)) return refuse(422, "not-supported", "Twilio is not configured on this edge.");
  const armed = await ctx.session.armTransfer({ to, reason: request.reason });
  if (!armed.ok) return refuse(409, "conflict", "The call is no longer live.");
  await auditAction(db, record, { action: "call.transfer", targetType: "call", targetId: record.callId });
  return { ok: true, result: { type: "transfer_call", status: "scheduled", to } };
}

async function sms(
  ctx: ActionContext,
  db: Db,
  tool: ToolDefinition,
  request: Extract<CallActionRequest, { type: "send_sms" }>,
): Promise<ActionOutcome> {
  const record = ctx.snapshot.record;
  const { caller, ours } = parties(record);
  const to = request.to ?? caller;
  if (to !== caller && !(tool.allow?.numbers ?? []).includes(to)) {
    return refuse(403, "not-allowed", `This agent may text the caller (${caller}) only, not ${to}.`);
  }
  const twilio = twilioCredentials(ctx.env);
  if (record.provider !== "twilio" || !twilio) {
    return refuse(422, "not-supported", "Texts can only be sent from a Twilio number, and this call is not on one.");
  }
  const claim = await ctx.session.claimAction("send_sms", PER_CALL_LIMITS.send_sms);
  if (claim === "not-live" || claim === "not-found") return refuse(409, "conflict", "The call is no longer live.");
  if (claim === "exhausted") {
    return refuse(429, "too-many", `This call already sent ${PER_CALL_LIMITS.send_sms} texts, the most one call may.`);
  }
  try {
    const sent = await sendTwilioSms(twilio, { to, from: ours, body: request.body });
    await auditAction(db, record, {
      action: "call.sms_sent",
      targetType: "call",
      targetId: record.callId,
      afterId: sent.sid,
    });
    await ctx.session.recordAction({ type: "send_sms", ok: true, at: Date.now(), detail: `sent to ${to}` });
    return { ok: true, result: { type: "send_sms", status: "sent", to, messageSid: sent.sid } };
  } catch (error) {
    const detail = `Twilio did not send the text: ${error instanceof Error ? error.message : String(error)}`;
    await auditAction(db, record, { action: "call.sms_failed", targetType: "call", targetId: record.callId });
    await ctx.session.recordAction({ type: "send_sms", ok: false, at: Date.now(), detail });
    return refuse(502, "carrier-error", detail);
  }
}

async function startCheck(
  ctx: ActionContext,
  db: Db,
  request: Extract<CallActionRequest, { type: "start_verification" }>,
): Promise<ActionOutcome> {
  const { env } = ctx;
  const record = ctx.snapshot.record;
  const tenantId = record.tenantId;
  const claim = await ctx.session.claimAction("start_verification", PER_CALL_LIMITS.start_verification);
  if (claim === "not-live" || claim === "not-found") return refuse(409, "conflict", "The call is no longer live.");
  if (claim === "exhausted") {
    return refuse(429, "too-many", "This call has started as many verifications as one call may.");
  }
  const { ours } = parties(record);
  const now = Date.now();
  const result = await startVerification(
    {
      db,
      // Same rule as POST /v1/verify: outside support lines an account may only verify its own owner.
      findAccount: verifiableAccounts(env, db, tenantId),
      twilio: twilioCredentials(env),
      smsFrom: async () => {
        // The code comes from the number the caller rang when it is a Twilio number, else the tenant's first one.
        const [number] = await db
          .select({ e164: phoneNumbers.e164 })
          .from(phoneNumbers)
          .where(
            and(
              eq(phoneNumbers.tenantId, tenantId),
              eq(phoneNumbers.provider, "twilio"),
              record.provider === "twilio" ? eq(phoneNumbers.e164, ours) : undefined,
            ),
          )
          .orderBy(asc(phoneNumbers.createdAt))
          .limit(1);
        return number?.e164;
      },
      secret: env.VERIFY_CODE_SECRET,
      now,
    },
    { tenantId, keyId: null, accountIdAsHeard: request.accountId },
  );
  if (!result.ok) {
    // The same answers, and the same audit entries, as the tenant API gives for these outcomes.
    if (result.reason === "no-phone-on-file" || result.reason === "sms-failed") {
      await auditAction(db, record, {
        action: `verification.${result.reason}`,
        targetType: "account",
        targetId: result.accountId,
      });
    }
    await ctx.session.recordAction({ type: "start_verification", ok: false, at: now, detail: result.reason });
    switch (result.reason) {
      case "unparseable-account-id":
        return refuse(
          422,
          "unprocessable",
          `That account ID does not look right (${result.failure}): ${result.detail}`,
        );
      case "unknown-account":
        return refuse(404, "not-found", `No account ${result.accountId}.`);
      case "no-phone-on-file":
      case "no-sender":
        return refuse(422, "unprocessable", result.detail);
      case "sms-failed":
        return refuse(502, "carrier-error", "The code could not be sent by text.");
    }
  }
  await ctx.session.rememberVerification(result.id);
  await auditAction(db, record, {
    action: "verification.start",
    targetType: "account",
    targetId: result.accountId,
    afterId: result.id,
  });
  await ctx.session.recordAction({ type: "start_verification", ok: true, at: now, detail: `code sent` });
  return {
    ok: true,
    result: {
      type: "start_verification",
      status: "code_sent",
      sentTo: result.sentTo,
      expiresInMs: Math.min(CODE_TTL_MS, Math.max(0, result.expiresAt - now)),
      attemptsLeft: MAX_ATTEMPTS,
    },
  };
}

async function check(
  ctx: ActionContext,
  db: Db,
  request: Extract<CallActionRequest, { type: "check_verification" }>,
): Promise<ActionOutcome> {
  const record = ctx.snapshot.record;
  const verificationId = ctx.snapshot.verificationId;
  if (!verificationId) return refuse(409, "conflict", "No verification was started on this call.");
  // The row lock in checkVerification holds for the transaction: two read-backs racing each other count twice.
  const result = await db.transaction(async (tx) =>
    checkVerification(tx as unknown as Db, {
      tenantId: record.tenantId,
      id: verificationId,
      codeAsHeard: request.code,
      secret: ctx.env.VERIFY_CODE_SECRET,
    }),
  );
  if (!result.found) return refuse(404, "not-found", "The verification started on this call no longer exists.");
  await auditAction(db, record, {
    action: `verification.${result.outcome}`,
    targetType: "account",
    targetId: result.accountId,
    afterId: verificationId,
  });
  await ctx.session.recordAction({
    type: "check_verification",
    ok: result.outcome === "verified",
    at: Date.now(),
    detail: result.outcome,
  });
  return {
    ok: true,
    result: {
      type: "check_verification",
      status: result.outcome,
      accountId: result.accountId,
      attemptsLeft: result.attemptsLeft,
    },
  };
}

/** A history message as readable text: its words, and any tool call or result named in brackets. */
function asText(message: { role: "user" | "assistant"; content: unknown[] }): {
  role: "user" | "assistant";
  text: string;
} {
  const parts = message.content.flatMap((block) => {
    if (typeof block !== "object" || block === null) return [];
    const b = block as { type?: unknown; text?: unknown; name?: unknown };
    if (b.type === "text" && typeof b.text === "string") return [b.text];
    if (b.type === "tool-use" && typeof b.name === "string") return [`[${b.name}]`];
    if (b.type === "tool-result") return ["[tool result]"];
    return [];
  });
  return { role: message.role, text: parts.join(" ").slice(0, 4_000) };
}

async function handoff(
  ctx: ActionContext,
  db: Db,
  tool: ToolDefinition,
  request: Extract<CallActionRequest, { type: "handoff_to_agent" }>,
): Promise<ActionOutcome> {
  const record = ctx.snapshot.record;
  const allowedAgents = tool.allow?.agents;
  if (allowedAgents && !allowedAgents.includes(request.agentId)) {
    return refuse(403, "not-allowed", `This agent may not hand calls to ${request.agentId}.`);
  }
  const [target] = await db
    .select({ name: agents.name, publishedVersionId: agents.publishedVersionId })
    .from(agents)
    .where(and(eq(agents.tenantId, record.tenantId), eq(agents.id, request.agentId), isNull(agents.deletedAt)))
    .limit(1);
  if (!target) return refuse(404, "not-found", `There is no agent ${request.agentId}.`);
  if (!target.publishedVersionId) return refuse(422, "unprocessable", `Agent ${request.agentId} is not published.`);
  const [version] = await db
    .select()
    .from(agentVersions)
    .where(and(eq(agentVersions.tenantId, record.tenantId), eq(agentVersions.id, target.publishedVersionId)))
    .limit(1);
  if (!version) return refuse(422, "unprocessable", `Agent ${request.agentId} is not published.`);
  // The node fetches the version by this hash, as it does for any call, and checks what it gets against it.
  const { prefix } = await compileVersion(version);
  const recorded = await ctx.session.recordHandoff({
    agentId: request.agentId,
    agentName: target.name,
    agentVersion: version.version,
    prefixHash: prefix.hash,
    at: Date.now(),
    context: { ...request.context, recentHistory: request.context.recentHistory.map(asText) },
  });
  if (!recorded.ok) return refuse(409, "conflict", "The call is no longer live.");
  await auditAction(db, record, { action: "call.handoff", targetType: "agent", targetId: request.agentId });
  await ctx.session.recordAction({
    type: "handoff_to_agent",
    ok: true,
    at: Date.now(),
    detail: `context handed to ${request.agentId}`,
  });
  return {
    ok: true,
    result: {
      type: "handoff_to_agent",
      status: "handed-off",
      agentId: request.agentId,
      agentName: target.name,
      agentVersion: version.version,
      prefixHash: prefix.hash,
    },
  };
}
