// A live call's checkpoint: what a media node needs to take over a call whose node was lost, as the edge's CallLedger
// keeps it. Built from the node's checkpoint events (`turn.caller-final`, `turn.agent-heard`) and its `turn` events;
// handed out by `POST /v1/calls/{callId}/resume` to the node the call was re-routed to, once per resume. Validated by
// the node (a trust boundary like any answer from the edge).
import { z } from "zod";

const text = z.string().max(50_000);
const turnIndex = z.number().int().nonnegative();

/** One side of one finished turn, as the caller heard it (the agent's reply cut where it was cut). */
export const HeardMessageSchema = z
  .object({
    index: turnIndex,
    role: z.enum(["user", "assistant"]),
    text,
    /** The agent's reply was cut short (barge-in, or the node was lost while it spoke). */
    interrupted: z.boolean(),
  })
  .strict();
export type HeardMessage = z.infer<typeof HeardMessageSchema>;

export const CallCheckpointSchema = z
  .object({
    callId: z.string().min(1).max(128),
    tenantId: z.string().min(1).max(128),
    /** The agent the call continues with: after a handoff, the agent it was handed to. */
    agentId: z.string().min(1).max(128),
    agentVersion: z.number().int().nonnegative(),
    prefixHash: z.string().regex(/^[0-9a-f]{64}$/),
    /** Which resume this is (the token's `resume` claim). */
    resume: z.number().int().min(1),
    /** Finished turns in order, oldest first; at most the last MAX_CHECKPOINT_MESSAGES. */
    history: z.array(HeardMessageSchema).max(400),
    /** Facts from the caller's words (the latest set the node reported, or the handoff's). */
    entities: z.record(z.string(), z.string()),
    /**
     * The turn the lost node had not finished: the caller's final words (null when it died before them) and what the
     * caller had heard of the reply (empty when nothing played). Null when every turn had finished.
     */
    inProgress: z.object({ index: turnIndex, callerText: text.nullable(), agentHeard: text }).strict().nullable(),
    /** The resumed node numbers its turns from here, so no stored turn is overwritten. */
    nextTurnIndex: turnIndex,
  })
  .strict();
export type CallCheckpoint = z.infer<typeof CallCheckpointSchema>;

/** The most history a checkpoint carries (messages); a longer call resumes with its most recent part. */
export const MAX_CHECKPOINT_MESSAGES = 400;

/** The body a node sends to claim a resume: the nonce of the resume token it was admitted with. */
export const ResumeClaimSchema = z
  .object({ nonce: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/), resume: z.number().int().min(1) })
  .strict();
export type ResumeClaim = z.infer<typeof ResumeClaimSchema>;
