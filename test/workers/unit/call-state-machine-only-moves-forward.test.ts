import { describe, expect, it } from "vitest";
import {
  CALL_STATES,
  canTransition,
  IllegalTransitionError,
  transition,
} from "../../../workers/src/do/call-ledger/state-machine.ts";

describe("call state machine", () => {
  it("walks the happy path initiated → routed → connected → in-progress → ended", () => {
    let state = transition("initiated", "routed");
    state = transition(state, "connected");
    state = transition(state, "in-progress");
    expect(transition(state, "ended")).toBe("ended");
  });

  it("lets any live state end", () => {
    for (const from of CALL_STATES.filter((s) => s !== "ended")) expect(canTransition(from, "ended")).toBe(true);
  });

  it("refuses to go backwards, skip ahead, or leave ended", () => {
    expect(() => transition("connected", "routed")).toThrow(IllegalTransitionError);
    expect(() => transition("initiated", "connected")).toThrow(/initiated to connected/);
    for (const to of CALL_STATES) expect(canTransition("ended", to)).toBe(false);
    for (const state of CALL_STATES) expect(canTransition(state, state)).toBe(false);
  });
});
