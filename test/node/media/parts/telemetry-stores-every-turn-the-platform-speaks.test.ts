// Telemetry, constructed directly and fed by replies' events: each reply becomes one turn record, with the
// platform's own lines in it. A reply the model could not give is stored with the apology the caller heard.
import { afterAll, expect, test } from "vitest";
import { History } from "../../../../media-nodes/src/pipeline/history.ts";
import { Reply } from "../../../../media-nodes/src/pipeline/reply.ts";
import { Telemetry } from "../../../../media-nodes/src/pipeline/telemetry.ts";
import { InMemorySessionSink } from "../../../../media-nodes/src/session-sink/in-memory.ts";
import type { WebNotice } from "../../../../media-nodes/src/transports/types.ts";
import { partsEnv } from "../support/parts.ts";

const env = partsEnv();
afterAll(() => env.close());

function setup() {
  const sink = new InMemorySessionSink();
  const notices: WebNotice[] = [];
  const telemetry = new Telemetry({
    callId: "call_t1",
    sink,
    metrics: env.metrics,
    log: env.logger,
    notify: (n) => notices.push(n),
  });
  return { sink, notices, telemetry };
}

test("a reply the model could not give is stored with the apology, and its line is listed", () => {
  const { sink, telemetry } = setup();
  const reply = new Reply(1, "Hello?");
  telemetry.watch(reply);
  reply.spoke("apology", "I'm sorry, I'm having trouble answering right now.");
  reply.finishGenerating();
  reply.played();
  const [turn] = sink.ofType("turn");
  expect(turn).toMatchObject({
    index: 1,
    userText: "Hello?",
    assistantText: "I'm sorry, I'm having trouble answering right now.",
    generatedText: "",
    interrupted: false,
    lines: [{ source: "apology", text: "I'm sorry, I'm having trouble answering right now." }],
  });
});

test("a filler before the answer is kept in the record's lines; the text is the answer", () => {
  const { sink, telemetry, notices } = setup();
  const fillersBefore = env.metrics.fillers.get();
  const reply = new Reply(2, "Is my bike ready?");
  telemetry.watch(reply);
  reply.spoke("filler", "Sorry, one moment…");
  reply.generated.push("Yes, it's ready.");
  reply.finishGenerating();
  reply.played();
  const [turn] = sink.ofType("turn");
  expect(turn!.assistantText).toBe("Yes, it's ready.");
  expect(turn!.lines).toEqual([{ source: "filler", text: "Sorry, one moment…" }]);
  expect(env.metrics.fillers.get() - fillersBefore).toBe(1);
  expect(notices).toEqual([
    { type: "transcript", role: "user", text: "Is my bike ready?" },
    { type: "transcript", role: "assistant", text: "Yes, it's ready." },
  ]);
});

test("an interrupted reply is stored as heard; a folded one leaves no record; actions are published", () => {
  const { sink, telemetry } = setup();
  const history = new History();
  const cut = new Reply(3, "When are you open?");
  history.beginReply(cut, cut.userText);
  telemetry.watch(cut);
  cut.generated.push("We open at nine. On weekends at ten.");
  cut.emit({ type: "action", action: { type: "end_call", reason: "done" } });
  cut.interrupt("barge-in", new Map([[0, "We open at nine."]]), 4.5);
  const folded = new Reply(4, "Um");
  telemetry.watch(folded);
  folded.interrupt("fold");
  const turns = sink.ofType("turn");
  expect(turns).toHaveLength(1);
  expect(turns[0]).toMatchObject({
    assistantText: "We open at nine.",
    generatedText: "We open at nine. On weekends at ten.",
    interrupted: true,
    clearDelayMs: 4.5,
  });
  expect(sink.ofType("action")).toMatchObject([{ turnIndex: 3, action: { type: "end_call" } }]);
});

test("history: a turn cut while its tools ran keeps the calls answered, so the next request is valid", () => {
  const history = new History();
  const reply = new Reply(1, "Where is my order?");
  history.beginReply(reply, reply.userText);
  history.appendAssistant([
    { type: "text", text: "Let me look. One moment." },
    { type: "tool-use", id: "t1", name: "lookup_order", input: {} },
  ]);
  reply.heard = new Map([[0, "Let me look."]]);
  history.trimToHeard(reply);
  expect(history.messages).toEqual([
    { role: "user", content: [{ type: "text", text: "Where is my order?" }] },
    {
      role: "assistant",
      content: [
        { type: "text", text: "Let me look." },
        { type: "tool-use", id: "t1", name: "lookup_order", input: {} },
      ],
    },
    {
      role: "user",
      content: [
        {
          type: "tool-result",
          toolUseId: "t1",
          content: { error: "The caller interrupted before this tool's result was received." },
          isError: true,
        },
      ],
    },
  ]);
  // A fold rewinds to before the reply, user text and all.
  history.rewind(reply);
  expect(history.messages).toEqual([]);
});
