// A call moved to another node after its own was lost: the move (once per lost stream), and the checkpoint the new
// node claims (once, with its resume token's nonce) to go on with the conversation as the caller heard it.
import type { CallCheckpoint } from "../../../../shared/call-checkpoint.ts";
import type { LedgerCore } from "./core.ts";
import { touch, watchNode } from "./node-watch.ts";
import type { RerouteResult, ResumeClaimResult, Stored } from "./session.ts";

/**
 * The call's stream ended while the call was live (its node died or was cut off) and the carrier asked what next:
 * the call now belongs to `nodeId`, which is admitted with a resume token whose nonce is `nonce` and may claim the
 * checkpoint once. Events from the lost node are refused from here on. `stream` is the stream whose end this is.
 */
export async function reroute(
  core: LedgerCore,
  input: { region: string; nodeId: string; nonce: string; stream: number },
): Promise<RerouteResult> {
  const stored = core.session.load();
  if (!stored) return { ok: false, error: "not-found" };
  if (stored.state === "ended") return { ok: false, error: "not-live", state: stored.state };
  // Each stream's end moves the call once; checked here, in the object's single thread, so two copies of one
  // carrier request racing each other cannot both move it.
  if (input.stream !== (stored.resumes ?? 0)) return { ok: false, error: "stale-stream", current: stored.resumes ?? 0 };
  const resume = (stored.resumes ?? 0) + 1;
  const fromNodeId = stored.record.nodeId;
  stored.resumes = resume;
  stored.turnFloor = core.heard.nextTurnIndex();
  stored.pendingResume = { resume, nonce: input.nonce, nodeId: input.nodeId, fromNodeId, at: Date.now() };
  stored.record = { ...stored.record, region: input.region, nodeId: input.nodeId };
  core.session.save(stored);
  core.log(stored, {
    type: "resume",
    ok: true,
    at: Date.now(),
    detail: `media node ${fromNodeId ?? "(none)"} lost; call moved to ${input.nodeId} (resume ${resume})`,
  });
  await core.outbox.enqueue([{ kind: "call", record: stored.record }]);
  await watchNode(core);
  return { ok: true, snapshot: core.session.snapshot(core.session.load() ?? stored) };
}

/**
 * The checkpoint, for the node the call was moved to, once: `nonce` must be the resume token's. A second claim
 * (a replayed token, on this node or any other) is refused, so two nodes can never both speak for the caller.
 */
export function claimResume(
  core: LedgerCore,
  input: { nodeId: string; nonce: string; resume: number },
): ResumeClaimResult {
  const stored = core.session.load();
  if (!stored) return { ok: false, error: "not-found" };
  if (stored.state === "ended") return { ok: false, error: "not-live" };
  if (stored.record.nodeId !== input.nodeId) return { ok: false, error: "not-your-call" };
  const pending = stored.pendingResume;
  if (!pending || pending.nonce !== input.nonce || pending.resume !== input.resume) {
    return { ok: false, error: "no-resume" };
  }
  if (pending.claimedAt !== undefined) return { ok: false, error: "already-claimed" };
  stored.pendingResume = { ...pending, claimedAt: Date.now() };
  core.session.save(stored);
  touch(core);
  return { ok: true, checkpoint: checkpointOf(core, stored, pending.resume) };
}

/** The agent version to continue with (after a handoff, the one handed to), entities, and the conversation as heard. */
function checkpointOf(core: LedgerCore, stored: Stored, resume: number): CallCheckpoint {
  const handoff = stored.handoffs?.at(-1);
  const record = stored.record;
  const current =
    handoff?.agentVersion && handoff.prefixHash
      ? { agentId: handoff.agentId, agentVersion: handoff.agentVersion, prefixHash: handoff.prefixHash }
      : {
          agentId: record.agentId ?? "",
          agentVersion: record.agentVersion ?? 0,
          prefixHash: record.prefixHash ?? "",
        };
  return {
    callId: record.callId,
    tenantId: record.tenantId,
    ...current,
    resume,
    entities: { ...handoff?.context.entities, ...stored.entities },
    ...core.heard.checkpoint(),
  };
}
