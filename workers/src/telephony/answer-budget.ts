// A carrier waits a bounded time for the webhook's answer (Twilio: 15 s, then the caller hears "an application
// error has occurred"). The inbound decision gets a budget inside that: past it the caller hears our apology, and
// a decision that still finishes later must not leave a live-looking call behind (a `ringing` record no media node
// will ever report on), so whatever it opened is ended at once and its lease given back.
import type { InboundDecision } from "./inbound.ts";

/** Well inside Twilio's 15 s, leaving room for the response's way back. */
export const INBOUND_DECISION_BUDGET_MS = 8_000;

export interface DecisionBudget {
  budgetMs?: number;
  /** Keeps the late decision's clean-up alive after the response: `ctx.waitUntil`. */
  defer: (work: Promise<unknown>) => void;
  /** Ends the session a late decision opened (reason given) and releases its lease. */
  abandon: (callId: string) => Promise<void>;
}

/** The decision, or "late" when it took longer than the budget (its outcome is then undone when it arrives). */
export async function decideWithinBudget(
  decision: Promise<InboundDecision>,
  { budgetMs = INBOUND_DECISION_BUDGET_MS, defer, abandon }: DecisionBudget,
): Promise<InboundDecision | "late"> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), budgetMs);
  });
  const outcome = await Promise.race([decision, late]).finally(() => clearTimeout(timer));
  if (outcome === "late") {
    defer(
      decision.then(
        async (decided) => {
          if (decided.kind === "stream") await abandon(decided.callId);
        },
        // A decision that failed gave its lease back itself (decideInboundCall) and opened no live session.
        () => undefined,
      ),
    );
  }
  return outcome;
}
