// The frame clock's timer cannot fire while the event loop is busy with a burst of messages; handlers
// poll it instead (runDue), so frames due meanwhile leave on time, each exactly once, in schedule order.
import { expect, test } from "vitest";
import { type ClockClient, FrameClock } from "../../../media-nodes/src/pipeline/frame-clock.ts";

test("polling the clock in the middle of a long handler sends every due frame once, with its own due time", () => {
  let now = 1_000;
  const clock = new FrameClock({ now: () => now });
  const ticks: { client: number; due: number; at: number }[] = [];
  const clients: ClockClient[] = [0, 1, 2].map((client) => ({
    onTick: (due, at) => ticks.push({ client, due, at }),
  }));
  for (const c of clients) clock.add(c);
  try {
    // Nothing is due yet beyond the first slot tick.
    clock.runDue();
    const first = ticks.length;
    clock.runDue();
    expect(ticks.length).toBe(first);
    // A 45 ms burst of work, polling every few ms, as the message handlers do.
    for (let step = 0; step < 15; step++) {
      now += 3;
      clock.runDue();
    }
    // Every client ticked every 20 ms of schedule, never twice for one due time, never more than 3 ms late.
    for (let client = 0; client < 3; client++) {
      const mine = ticks.filter((t) => t.client === client);
      const dues = mine.map((t) => t.due);
      expect(new Set(dues).size).toBe(dues.length);
      for (let i = 1; i < dues.length; i++) expect(dues[i]! - dues[i - 1]!).toBe(20);
      expect(mine.length).toBeGreaterThanOrEqual(2);
      for (const t of mine) expect(t.at - t.due).toBeLessThanOrEqual(3);
    }
  } finally {
    clock.stop();
  }
});
