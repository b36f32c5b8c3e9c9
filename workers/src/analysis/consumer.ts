// The analysis queue's consumer: for each ended call whose agent version asks for analysis, read the transcript as
// heard from Postgres, run the analysis on Bedrock and store it with the call, with its tokens metered. Runs in the
// edge Worker's `queue()` handler, off the call path: a slow or failing model delays analyses, never a call.
import { and, asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { AgentRuntimeConfigSchema } from "../../../shared/agent-config.ts";
import { analysisUsageRows } from "../cost/meters.ts";
import { openDb } from "../db/client.ts";
import { agentVersions, callAnalyses, calls, callTurns } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import { upsertUsage } from "../do/call-ledger/persist.ts";
import type { Env } from "../env.ts";
import { publishEvent } from "../events/publish.ts";
import { databaseUrlFor } from "../residency/residency.ts";
import { AnalysisRefused, type AnalysisResult, analyzeCall, type TranscriptLine } from "./analyze.ts";
import { BedrockError, bedrockConverse } from "./bedrock.ts";
import type { AnalysisMessage } from "./env.ts";

const MessageSchema = z
  .object({ tenantId: z.string().min(1), callId: z.string().min(1), jurisdiction: z.enum(["us", "eu"]) })
  .strict();

/** The analysis queue's name (wrangler.toml), by which the Worker's one queue() handler dispatches to this consumer. */
export const ANALYSIS_QUEUE_NAME = "aybiza-call-analysis";

/** Attempts before a call's analysis is given up and stored as failed (the queue's own max_retries is higher). */
export const MAX_ATTEMPTS = 5;

export type AnalysisOutcome =
  | { kind: "analyzed"; result: AnalysisResult }
  | { kind: "failed"; error: string }
  | { kind: "skipped"; reason: string };

/**
 * Sends `call.analyzed` to the tenant's webhook endpoints (workers/src/events/). The event ID is the call's, so a
 * redelivered analysis message cannot send a second, different event. A failed analysis is reported with nulls.
 */
export async function onCallAnalyzed(
  env: Env,
  event: {
    tenantId: string;
    callId: string;
    jurisdiction: AnalysisMessage["jurisdiction"];
    outcome: Exclude<AnalysisOutcome, { kind: "skipped" }>;
  },
): Promise<void> {
  const result = event.outcome.kind === "analyzed" ? event.outcome.result : null;
  await publishEvent(
    env,
    { id: event.tenantId, jurisdiction: event.jurisdiction },
    "call.analyzed",
    {
      callId: event.callId,
      summary: result?.summary ?? null,
      successEvaluation: result?.success ? { passed: result.success.pass, reason: result.success.reason } : null,
      structuredData: result?.data ?? null,
    },
    { id: `evt_analyzed_${event.callId}` },
  );
}

export async function consumeAnalysisBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    const parsed = MessageSchema.safeParse(message.body);
    if (!parsed.success) {
      console.error("analysis: dropped a malformed queue message", { issues: parsed.error.issues.length });
      message.ack();
      continue;
    }
    try {
      await analyzeAndStore(env, parsed.data, message.attempts >= MAX_ATTEMPTS);
      message.ack();
    } catch (error) {
      // Only what may pass by itself (throttling, an outage, the database) comes back here.
      console.warn("analysis: will retry", {
        call: parsed.data.callId,
        attempt: message.attempts,
        error: String(error),
      });
      message.retry({ delaySeconds: Math.min(600, 5 * 4 ** (message.attempts - 1)) });
    }
  }
}

/** An EU tenant's transcript is analysed in an EU region, as its calls are answered there. */
export function analysisRegion(env: Env, jurisdiction: AnalysisMessage["jurisdiction"]): string {
  return jurisdiction === "eu" ? (env.BEDROCK_REGION_EU ?? "eu-central-1") : (env.BEDROCK_REGION ?? "us-east-1");
}

function bedrockFor(env: Env, jurisdiction: AnalysisMessage["jurisdiction"]) {
  const endpoint = env.BEDROCK_ENDPOINT;
  if (!endpoint && !(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY)) return undefined;
  return bedrockConverse({
    region: analysisRegion(env, jurisdiction),
    endpoint,
    // An endpoint without credentials is the local emulator, which checks the signature's scope, not its key.
    accessKeyId: env.AWS_ACCESS_KEY_ID ?? "local",
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? "local",
    sessionToken: env.AWS_SESSION_TOKEN,
  });
}

/**
 * Analyses one call and stores the outcome. Throws only for failures worth retrying, unless this is the last
 * attempt, when the failure is stored instead.
 */
export async function analyzeAndStore(env: Env, msg: AnalysisMessage, lastAttempt = false): Promise<AnalysisOutcome> {
  const { db, close } = openDb({ DATABASE_URL: databaseUrlFor(env, msg.jurisdiction), DB_WS_PROXY: env.DB_WS_PROXY });
  try {
    const [row] = await db
      .select({ call: calls, version: agentVersions })
      .from(calls)
      .innerJoin(
        agentVersions,
        and(eq(agentVersions.tenantId, calls.tenantId), eq(agentVersions.id, calls.agentVersionId)),
      )
      .where(and(eq(calls.tenantId, msg.tenantId), eq(calls.id, msg.callId)));
    if (!row) return { kind: "skipped", reason: "no such call with an agent version" };
    const config = AgentRuntimeConfigSchema.shape.analysis.parse(row.version.settings.analysis);
    if (!config) return { kind: "skipped", reason: "the agent version has no analysis settings" };
    const transcript = await transcriptOf(db, msg.tenantId, msg.callId);
    // A call nobody spoke on (unanswered, refused, hung up during the greeting) has nothing to analyse.
    if (!transcript.some((l) => l.speaker === "caller")) return { kind: "skipped", reason: "the caller never spoke" };

    // Redelivered after it was stored (at-least-once): a second analysis would only spend tokens again.
    const [done] = await db
      .select({ status: callAnalyses.status })
      .from(callAnalyses)
      .where(and(eq(callAnalyses.tenantId, msg.tenantId), eq(callAnalyses.callId, msg.callId)));
    if (done?.status === "completed") return { kind: "skipped", reason: "already analyzed" };
    const converse = bedrockFor(env, msg.jurisdiction);
    let outcome: Exclude<AnalysisOutcome, { kind: "skipped" }>;
    if (!converse) {
      outcome = { kind: "failed", error: "Bedrock is not configured on the edge (BEDROCK_ENDPOINT or AWS keys)" };
      await store(db, msg, outcome, null);
    } else {
      try {
        const result = await analyzeCall(converse, {
          config,
          policy: row.version.modelPolicy,
          transcript,
          metadata: { callId: msg.callId, tenantId: msg.tenantId, purpose: "post-call-analysis" },
        });
        outcome = { kind: "analyzed", result };
        await store(db, msg, outcome, result);
      } catch (error) {
        const retryable = error instanceof BedrockError ? error.retryable : !(error instanceof AnalysisRefused);
        if (retryable && !lastAttempt) throw error;
        outcome = { kind: "failed", error: String(error instanceof Error ? error.message : error).slice(0, 1000) };
        await store(db, msg, outcome, error instanceof AnalysisRefused ? error : null);
      }
    }
    await onCallAnalyzed(env, { tenantId: msg.tenantId, callId: msg.callId, jurisdiction: msg.jurisdiction, outcome });
    return outcome;
  } finally {
    await close().catch(() => undefined);
  }
}

/** The transcript as heard: each exchange's caller words, then what the caller heard of the agent's reply. */
async function transcriptOf(db: Db, tenantId: string, callId: string): Promise<TranscriptLine[]> {
  const turns = await db
    .select({ speaker: callTurns.speaker, text: callTurns.text, interrupted: callTurns.interrupted })
    .from(callTurns)
    .where(and(eq(callTurns.tenantId, tenantId), eq(callTurns.callId, callId)))
    .orderBy(asc(callTurns.turnIndex), sql`${callTurns.speaker} = 'agent'`);
  return turns.filter((t) => t.text.trim() !== "");
}

async function store(
  db: Db,
  msg: AnalysisMessage,
  outcome: Exclude<AnalysisOutcome, { kind: "skipped" }>,
  spent: { modelId: string; usage: { inputTokens: number; outputTokens: number } } | null,
): Promise<void> {
  const result = outcome.kind === "analyzed" ? outcome.result : null;
  const row = {
    tenantId: msg.tenantId,
    callId: msg.callId,
    status: outcome.kind === "analyzed" ? ("completed" as const) : ("failed" as const),
    summary: result?.summary ?? null,
    successPass: result?.success?.pass ?? null,
    successReason: result?.success?.reason ?? null,
    data: result?.data ?? null,
    dataErrors: result?.dataErrors ?? null,
    error: outcome.kind === "failed" ? outcome.error : null,
    modelId: spent?.modelId ?? null,
  };
  await db.transaction(async (tx) => {
    await tx
      .insert(callAnalyses)
      .values(row)
      .onConflictDoUpdate({
        target: [callAnalyses.tenantId, callAnalyses.callId],
        set: { ...row, createdAt: sql`now()` },
      });
    if (spent) await upsertUsage(tx, msg.tenantId, msg.callId, analysisUsageRows(spent.modelId, spent.usage));
  });
}
