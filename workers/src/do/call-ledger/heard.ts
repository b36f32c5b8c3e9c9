// The conversation as the caller heard it, kept in the CallLedger's own SQLite storage: one row per (turn, speaker),
// written the moment the node reports a piece of a turn (checkpoint events) and made final by the turn's own event.
// This is what a node that takes over a call resumes from; the outbox copies the same pieces to Postgres.
import { type CallCheckpoint, type HeardMessage, MAX_CHECKPOINT_MESSAGES } from "../../../../shared/call-checkpoint.ts";
import type { AgentTextHeardEvent, CallerTurnFinalEvent, TurnEvent } from "../../../../shared/session-events.ts";

type Speaker = "caller" | "agent";
type HeardRow = { turn_index: number; speaker: Speaker; text: string; interrupted: number; final: number };

export const HEARD_TABLE = `CREATE TABLE IF NOT EXISTS heard (
  turn_index INTEGER NOT NULL, speaker TEXT NOT NULL, text TEXT NOT NULL, interrupted INTEGER NOT NULL,
  final INTEGER NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (turn_index, speaker))`;

export class HeardStore {
  constructor(private readonly sql: SqlStorage) {}

  /**
   * Records a checkpoint; false when it changes nothing (the turn is already final, or an older mark arrives after
   * a newer one), in which case it must not reach the outbox either.
   */
  applyCheckpoint(event: CallerTurnFinalEvent | AgentTextHeardEvent): boolean {
    const speaker: Speaker = event.type === "turn.caller-final" ? "caller" : "agent";
    const existing = this.#row(event.index, speaker);
    if (existing?.final === 1) return false;
    if (speaker === "agent" && existing && existing.text.length > event.text.length) return false;
    if (existing && existing.text === event.text) return false;
    this.#put(event.index, speaker, event.text, speaker === "agent", false, event.at);
    return true;
  }

  /**
   * The caller's words of turn `index` were folded into a later turn (they went on before hearing its reply, and the
   * node answered both parts as one): that turn has no record of its own, so its checkpointed words go. True when a
   * row went; a turn that is final, or that the caller heard an answer to, is never dropped.
   */
  dropFolded(index: number): boolean {
    const caller = this.#row(index, "caller");
    if (!caller || caller.final === 1 || this.#row(index, "agent")) return false;
    this.sql.exec("DELETE FROM heard WHERE turn_index = ? AND speaker = 'caller'", index);
    return true;
  }

  /** The turn finished: both sides as the node finally reports them. */
  applyTurn(event: TurnEvent): void {
    if (event.userText.trim() !== "") this.#put(event.index, "caller", event.userText, false, true, event.at);
    // The platform's own lines are not the conversation a resumed model goes on with; only the agent's words are.
    if (event.assistantText !== "" || event.generatedText !== "") {
      this.#put(event.index, "agent", event.assistantText, event.interrupted, true, event.at);
    }
  }

  /** The checkpoint body without the agent's identity (the ledger adds it from the call record). */
  checkpoint(): Pick<CallCheckpoint, "history" | "inProgress" | "nextTurnIndex"> {
    const rows = this.sql
      .exec<HeardRow>(
        "SELECT turn_index, speaker, text, interrupted, final FROM heard ORDER BY turn_index, speaker = 'agent'",
      )
      .toArray();
    const last = rows.at(-1)?.turn_index;
    const open = last !== undefined && rows.some((r) => r.turn_index === last && r.final === 0) ? last : undefined;
    const history: HeardMessage[] = [];
    for (const row of rows) {
      if (row.turn_index === open) continue;
      history.push({
        index: row.turn_index,
        role: row.speaker === "caller" ? "user" : "assistant",
        text: row.text,
        interrupted: row.interrupted === 1,
      });
    }
    const inProgress =
      open === undefined
        ? null
        : {
            index: open,
            callerText: rows.find((r) => r.turn_index === open && r.speaker === "caller")?.text ?? null,
            agentHeard: rows.find((r) => r.turn_index === open && r.speaker === "agent")?.text ?? "",
          };
    return {
      history: history.slice(-MAX_CHECKPOINT_MESSAGES),
      inProgress,
      nextTurnIndex: last === undefined ? 0 : last + 1,
    };
  }

  /** The first turn index no stored piece uses. */
  nextTurnIndex(): number {
    const max = this.sql.exec<{ m: number | null }>("SELECT max(turn_index) AS m FROM heard").one().m;
    return max === null ? 0 : max + 1;
  }

  #row(index: number, speaker: Speaker): HeardRow | undefined {
    return this.sql
      .exec<HeardRow>(
        "SELECT turn_index, speaker, text, interrupted, final FROM heard WHERE turn_index = ? AND speaker = ?",
        index,
        speaker,
      )
      .toArray()[0];
  }

  #put(index: number, speaker: Speaker, text: string, interrupted: boolean, final: boolean, at: number): void {
    this.sql.exec(
      `INSERT INTO heard (turn_index, speaker, text, interrupted, final, at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (turn_index, speaker) DO UPDATE SET text = excluded.text, interrupted = excluded.interrupted,
         final = excluded.final, at = excluded.at`,
      index,
      speaker,
      text,
      interrupted ? 1 : 0,
      final ? 1 : 0,
      at,
    );
  }
}
