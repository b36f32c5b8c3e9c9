// Supervision on the pacer's tick, constructed directly: a filler when the agent owes a reply and the caller has
// heard nothing for deadAirMs (counted from the end of their speech), at most three per reply; and a filler
// once a stalled recognizer is noted, when the caller has stopped and the agent is quiet.
import { expect, test } from "vitest";
import { Reply } from "../../../../media-nodes/src/pipeline/reply.ts";
import { Supervision } from "../../../../media-nodes/src/pipeline/supervision.ts";

function setup() {
  const view = {
    reply: undefined as Reply | undefined,
    queued: 0,
    lastFrameAt: Number.NEGATIVE_INFINITY,
    audible: false,
    callerSpeaking: false,
  };
  const fillers: { at: number; reply: Reply | undefined; why: string }[] = [];
  let now = 0;
  const sup = new Supervision(
    {
      reply: () => view.reply,
      queuedBytes: () => view.queued,
      lastFrameAt: () => view.lastFrameAt,
      agentAudible: () => view.audible,
      callerSpeaking: () => view.callerSpeaking,
    },
    { deadAirMs: 2_000, playFiller: (reply, why) => fillers.push({ at: now, reply, why }) },
  );
  const run = (until: number) => {
    for (; now < until; now += 20) sup.tick(now);
  };
  return { view, fillers, run, sup };
}

test("a reply owed for two seconds after the caller stopped gets a filler on the last tick before the limit", () => {
  const s = setup();
  const reply = new Reply(1, "Is my bike ready?");
  reply.times.speechEndAt = 1_000;
  s.view.reply = reply;
  s.run(2_960);
  expect(s.fillers).toEqual([]);
  s.run(3_000);
  expect(s.fillers).toEqual([{ at: 2_980, reply, why: "dead-air" }]);
  expect(reply.fillers).toBe(1);
});

test("no filler while audio is queued, once the reply is done, or past three per reply", () => {
  const s = setup();
  const reply = new Reply(1, "Hello?");
  reply.times.speechEndAt = 0;
  s.view.reply = reply;
  s.view.queued = 1_600;
  s.run(5_000);
  expect(s.fillers).toEqual([]);
  s.view.queued = 0;
  s.run(40_000);
  expect(s.fillers).toHaveLength(3);
  const done = new Reply(2, "Thanks");
  done.times.speechEndAt = 40_000;
  done.finishGenerating();
  s.view.reply = done;
  s.run(50_000);
  expect(s.fillers).toHaveLength(3);
});

test("a stalled recognizer gets a filler once the caller has stopped and the agent is quiet", () => {
  const s = setup();
  s.view.callerSpeaking = true;
  s.sup.noteSttStall();
  s.run(500);
  expect(s.fillers).toEqual([]);
  s.view.callerSpeaking = false;
  s.run(520);
  expect(s.fillers).toEqual([{ at: 500, reply: undefined, why: "stt-stall" }]);
  s.run(5_000);
  expect(s.fillers).toHaveLength(1);
});
