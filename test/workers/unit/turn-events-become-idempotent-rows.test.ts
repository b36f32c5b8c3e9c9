import { describe, expect, it } from "vitest";
import type { TurnEvent } from "../../../shared/session-events.ts";
import { callStatusFromCarrier, turnRows } from "../../../workers/src/do/call-ledger/records.ts";

const turn = (over: Partial<TurnEvent> = {}): TurnEvent => ({
  type: "turn",
  callId: "call_1",
  seq: 4,
  index: 3,
  userText: "Where is my order?",
  assistantText: "It ships today.",
  generatedText: "It ships today.",
  interrupted: false,
  thinking: false,
  tools: [],
  modelIds: ["us.anthropic.claude-haiku-4-5-20251001-v1:0"],
  usage: { inputTokens: 900, outputTokens: 12, cacheReadInputTokens: 800, cacheWriteInputTokens: 0 },
  waterfall: {
    speechEndAt: 10_000,
    sttFinalAt: 10_150,
    llmFirstTokenAt: 10_500,
    firstAudioOutAt: 10_900,
    platformOverheadMs: 40.4,
  },
  at: 11_000,
  ...over,
});

let counter = 0;
const ids = () => `turn_${++counter}`;

describe("turn rows", () => {
  it("keep the caller's words and the agent's reply under the node's turn index", () => {
    const rows = turnRows(turn(), "AYB-1", ids);
    expect(rows.map((r) => [r.speaker, r.turnIndex, r.text])).toEqual([
      ["caller", 3, "Where is my order?"],
      ["agent", 3, "It ships today."],
    ]);
    // The same event delivered twice maps onto the same keys.
    const again = turnRows(turn(), "AYB-1", ids).map((r) => `${r.turnIndex}/${r.speaker}`);
    expect(again).toEqual(rows.map((r) => `${r.turnIndex}/${r.speaker}`));
  });

  it("carry the waterfall and the token usage on the agent's row", () => {
    const agent = turnRows(turn(), "AYB-1", ids)[1];
    expect(agent).toMatchObject({
      callerSpeechEndedAt: 10_000,
      sttFinalAt: 10_150,
      llmFirstTokenAt: 10_500,
      firstAudioOutAt: 10_900,
      ttsFirstByteAt: null,
      platformOverheadMs: 40,
      cacheReadTokens: 800,
      modelId: "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    });
  });

  it("keep when the model was asked and the tools the turn ran, for the console's waterfall and tool list", () => {
    const tools = [{ id: "t1", name: "lookup_order", ok: true, ms: 31 }];
    const [caller, agent] = turnRows(
      turn({ tools, waterfall: { ...turn().waterfall, llmRequestAt: 10_170 } }),
      "AYB-1",
      ids,
    );
    expect(agent).toMatchObject({ llmRequestAt: 10_170, tools });
    expect(caller).toMatchObject({ llmRequestAt: null });
    expect(caller?.tools ?? null).toBeNull();
    expect(turnRows(turn(), "AYB-1", ids)[1]?.tools).toBeNull();
  });

  it("store the greeting as an agent row only, and what was heard of an interrupted reply", () => {
    expect(turnRows(turn({ index: 0, userText: "" }), "AYB-1", ids).map((r) => r.speaker)).toEqual(["agent"]);
    const cut = turnRows(turn({ assistantText: "It ships", interrupted: true }), "AYB-1", ids)[1];
    expect(cut).toMatchObject({ text: "It ships", interrupted: true });
  });

  it("map carrier statuses onto the calls table's spelling", () => {
    expect(callStatusFromCarrier("no-answer")).toBe("no_answer");
    expect(callStatusFromCarrier("completed")).toBe("completed");
    expect(callStatusFromCarrier("something-new")).toBe("failed");
  });
});
