// A media node's reports about its call, applied by the call's CallLedger: the call started, each finished piece of
// a turn (checkpoints) the moment it exists, each whole turn with its meters, the actions the agent took, the end.
// Each event's `seq` is applied once (the node retries deliveries); turns are kept even when they arrive after the
// call ended: they are data, not a state change.
import { newResourceId } from "../../../../shared/ids.ts";
import type { SessionEvent } from "../../../../shared/session-events.ts";
import { turnUsageRows } from "../../cost/meters.ts";
import type { CallStatus } from "../../db/schema.ts";
import type { LedgerCore } from "./core.ts";
import { emitStarted } from "./hand-offs.ts";
import { confirmLease } from "./lease.ts";
import { touch } from "./node-watch.ts";
import type { OutboxItem } from "./outbox.ts";
import { checkpointRow, turnRows } from "./records.ts";
import type { SessionResult, Stored } from "./session.ts";
import { carryOutTransfer } from "./transfer.ts";

const turnId = () => newResourceId("turn");

export const EVENTS_APPLIED_TABLE = `CREATE TABLE IF NOT EXISTS events_applied (
  epoch INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (epoch, seq))`;

export async function ingest(core: LedgerCore, event: SessionEvent, from?: { nodeId: string }): Promise<SessionResult> {
  const stored = core.session.load();
  if (!stored) return { ok: false, error: "not-found" };
  const refused = refusal(stored, event, from);
  if (refused) return refused;
  // Each node numbers its events from 0, so a resumed call's events are told apart by the resume they belong to.
  const fresh =
    core.storage.sql.exec(
      "INSERT INTO events_applied (epoch, seq) VALUES (?, ?) ON CONFLICT DO NOTHING",
      stored.resumes ?? 0,
      event.seq,
    ).rowsWritten > 0;
  if (!fresh) return { ok: true, snapshot: core.session.snapshot(stored) };
  touch(core);
  const current = () => ({ ok: true, snapshot: core.session.snapshot(core.session.load() ?? stored) }) as const;
  switch (event.type) {
    case "call.started": {
      if (stored.state === "connected" || stored.state === "in-progress") {
        // A resumed call: the new node has it. Nothing moves; subscribers see it start again.
        core.broadcast({ type: "event", event });
        return { ok: true, snapshot: core.session.snapshot(stored) };
      }
      const moved = await core.move("connected", undefined, (record) => ({
        ...record,
        status: "in_progress",
        answeredAt: record.answeredAt ?? event.at,
        region: event.region,
        nodeId: event.nodeId,
      }));
      if (moved.ok) {
        await confirmLease(core, moved.snapshot.record);
        await emitStarted(core, moved.snapshot.record);
      }
      core.broadcast({ type: "event", event });
      return moved;
    }
    case "turn.caller-final":
    case "turn.agent-heard": {
      if (event.type === "turn.caller-final" && event.entities) {
        stored.entities = event.entities;
        core.session.save(stored);
      }
      if (core.heard.applyCheckpoint(event)) {
        await core.outbox.enqueue([{ kind: "turn", row: checkpointRow(event, stored.record.tenantId, turnId) }]);
        core.broadcast({ type: "event", event });
      }
      if (event.type === "turn.caller-final") await dropFolded(core, stored, event.index, event.folds);
      const moved = stored.state === "connected" ? await core.move("in-progress") : undefined;
      return moved ?? current();
    }
    case "turn": {
      core.heard.applyTurn(event);
      const rows = turnRows(event, stored.record.tenantId, turnId);
      await core.outbox.enqueue([
        ...rows.map((row): OutboxItem => ({ kind: "turn", row })),
        { kind: "usage", tenantId: stored.record.tenantId, callId: event.callId, rows: turnUsageRows(event) },
      ]);
      core.broadcast({ type: "event", event });
      const moved = stored.state === "connected" ? await core.move("in-progress") : undefined;
      // The turn that asked for a transfer has played out (or was cut off): the caller heard the agent's
      // line in the agent's own voice, and now the carrier takes the call elsewhere.
      const transfer = core.session.load()?.transfer;
      if (transfer?.status === "bound" && transfer.turnIndex === event.index) return carryOutTransfer(core);
      return moved ?? current();
    }
    case "action": {
      const action = event.action;
      if (action.type === "transfer_call") {
        if (stored.transfer?.status === "armed" && stored.transfer.to === action.to) {
          stored.transfer = { ...stored.transfer, status: "bound", turnIndex: event.turnIndex };
          core.session.save(stored);
        } else {
          // The node reports a transfer the edge never agreed to: record it, do nothing.
          core.log(stored, { type: "transfer_call", ok: false, at: Date.now(), detail: "not armed by the edge" });
        }
      }
      core.broadcast({ type: "event", event });
      return current();
    }
    case "call.ended": {
      core.broadcast({ type: "event", event });
      const status: CallStatus =
        event.reason === "caller-hung-up" || event.reason === "agent-ended" ? "completed" : "failed";
      return core.end({ status, reason: event.reason }, "node");
    }
  }
}

/** Why an event is not this call's to apply, or undefined when it is. */
function refusal(stored: Stored, event: SessionEvent, from: { nodeId: string } | undefined): SessionResult | undefined {
  if (event.callId !== stored.record.callId) return { ok: false, error: "mismatch", message: "event for another call" };
  // Checked here, in the object's single thread, so an event of a lost node cannot slip in after a reroute.
  if (from && from.nodeId !== stored.record.nodeId) return { ok: false, error: "not-your-call" };
  const agents = [stored.record.agentId, ...(stored.handoffs ?? []).map((h) => h.agentId)];
  if (
    event.type === "call.started" &&
    (event.tenantId !== stored.record.tenantId || (stored.record.agentId !== null && !agents.includes(event.agentId)))
  ) {
    return { ok: false, error: "mismatch", message: "call.started names another tenant or agent" };
  }
  const index = "index" in event ? event.index : null;
  if (index !== null && index < (stored.turnFloor ?? 0)) {
    return {
      ok: false,
      error: "mismatch",
      message: `turn ${index} was before the resume; number turns from ${stored.turnFloor}`,
    };
  }
  return undefined;
}

/**
 * The caller went on before hearing turn `folded`'s reply, and the node answers both parts as turn `index`: the
 * words checkpointed for `folded` were never a turn of their own, so they go (here and, in order, from Postgres).
 * Never a turn before the call's last resume: those belong to the lost node's record.
 */
async function dropFolded(core: LedgerCore, stored: Stored, index: number, folded: number | undefined) {
  if (folded === undefined || folded >= index || folded < (stored.turnFloor ?? 0)) return;
  if (!core.heard.dropFolded(folded)) return;
  const { tenantId, callId } = stored.record;
  await core.outbox.enqueue([{ kind: "drop-caller-turn", tenantId, callId, turnIndex: folded }]);
}
