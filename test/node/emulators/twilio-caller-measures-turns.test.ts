import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CallReport, placeSimulatedCall, SimulatedCaller } from "../../../emulators/twilio-caller/caller.ts";
import { type FakeMediaNode, startFakeMediaNode, tone } from "./support/fake-media-node.ts";
import { END_OF_SPEECH_SILENCE_MS, REPLY_MS, THINK_MS, toyAgent } from "./support/toy-agent.ts";

let node: FakeMediaNode;
let greetingMs = 0;
beforeAll(async () => {
  node = await startFakeMediaNode((conn) => toyAgent(conn, greetingMs));
});
afterAll(() => node.close());

describe("a scripted call", () => {
  let report: CallReport;
  beforeAll(async () => {
    greetingMs = 500;
    report = await placeSimulatedCall({
      streamUrl: node.url,
      replySilenceMs: 500,
      script: [{ line: { audio: tone(400), text: "first" } }, { line: { audio: tone(300), text: "second" } }],
    });
    greetingMs = 0;
  }, 20_000);

  it("hears the greeting before speaking", () => {
    expect(report.greeting?.firstAgentAudioMs).toBeGreaterThan(0);
    expect(report.greeting?.firstAgentAudioMs).toBeLessThan(500);
    expect(report.greeting?.agentAudioMs).toBeGreaterThan(350);
    expect(report.greeting?.agentAudioMs).toBeLessThan(800);
    // The first line waits for the greeting to end.
    expect(report.turns[0]!.startedAt).toBeGreaterThan(500 + 500);
  });

  it("measures first agent audio from the end of each line and the reply length", () => {
    expect(report.turns.map((t) => t.line)).toEqual(["first", "second"]);
    for (const turn of report.turns) {
      expect(turn.speechMs).toBeGreaterThan(200);
      // The toy agent answers 200 ms + 400 ms after the caller stops; allow for frame and timer jitter.
      expect(turn.firstAgentAudioMs).toBeGreaterThan(END_OF_SPEECH_SILENCE_MS + THINK_MS - 100);
      expect(turn.firstAgentAudioMs).toBeLessThan(END_OF_SPEECH_SILENCE_MS + THINK_MS + 500);
      expect(turn.agentAudioMs).toBeGreaterThan(REPLY_MS - 150);
      expect(turn.agentAudioMs).toBeLessThan(REPLY_MS + 300);
      expect(turn.bargedIn).toBe(false);
      expect(turn.clearAfterMs).toBeNull();
    }
    expect(report.turns[1]!.startedAt).toBeGreaterThan(report.turns[0]!.endOfSpeechAt);
    expect(report.errors).toEqual([]);
    expect(report.endedBy).toBe("caller");
  });
});

describe("a caller who talks over the greeting", () => {
  it("does not take the greeting the agent withdrew (clear) for the answer to its line", async () => {
    greetingMs = 3000;
    const report = await placeSimulatedCall({
      streamUrl: node.url,
      replySilenceMs: 500,
      waitForGreeting: false,
      script: [{ line: { audio: tone(400), text: "hello?" } }],
    });
    greetingMs = 0;
    expect(report.clearsReceived).toBe(1);
    expect(report.turns[0]?.firstAgentAudioMs).toBeGreaterThan(END_OF_SPEECH_SILENCE_MS + THINK_MS - 100);
    expect(report.turns[0]?.agentAudioMs).toBeGreaterThan(REPLY_MS - 150);
  }, 20_000);
});

describe("barge-in", () => {
  it("talks over the agent's answer and reports how quickly the agent cleared", async () => {
    const caller = await SimulatedCaller.connect({ streamUrl: node.url, replySilenceMs: 500 });
    const { interrupted, bargeIn } = await caller.sayAndBargeIn(
      { audio: tone(900), text: "long question" },
      { afterAgentAudioMs: 800, line: { audio: tone(500), text: "wait" } },
    );
    await caller.hangUp();

    expect(interrupted.interrupted).toBe(true);
    expect(interrupted.firstAgentAudioMs).not.toBeNull();
    // The 4 s answer was heard for ~0.8 s plus the agent's reaction time, not to the end.
    expect(interrupted.agentAudioMs).toBeGreaterThan(600);
    expect(interrupted.agentAudioMs).toBeLessThan(2000);

    expect(bargeIn.bargedIn).toBe(true);
    // The toy agent clears after 3 voiced frames (~60 ms).
    expect(bargeIn.clearAfterMs).toBeGreaterThan(20);
    expect(bargeIn.clearAfterMs).toBeLessThan(600);
    // Then it answers the interruption, measured from the end of the barge-in line.
    expect(bargeIn.firstAgentAudioMs).toBeGreaterThan(END_OF_SPEECH_SILENCE_MS + THINK_MS - 100);
    expect(bargeIn.firstAgentAudioMs).toBeLessThan(END_OF_SPEECH_SILENCE_MS + THINK_MS + 500);

    const report = caller.report();
    expect(report.clearsReceived).toBe(1);
    expect(report.turns.map((t) => [t.line, t.bargedIn])).toEqual([
      ["long question", false],
      ["wait", true],
    ]);
  }, 20_000);

  it("reports no clear when the agent keeps talking over the caller", async () => {
    const stubborn = await startFakeMediaNode((conn) => {
      conn
        .waitFor((r) => r.msg.event === "start")
        .then(() => {
          const audio = tone(1500);
          let offset = 0;
          const t = setInterval(() => {
            if (offset >= audio.length || conn.closeCode !== null) return clearInterval(t);
            conn.sendMedia(audio.subarray(offset, offset + 160));
            offset += 160;
          }, 20);
        });
    });
    try {
      const caller = await SimulatedCaller.connect({
        streamUrl: stubborn.url,
        replySilenceMs: 300,
        replyTimeoutMs: 500,
      });
      const { bargeIn } = await caller.sayAndBargeIn(
        { audio: tone(100), text: "hello" },
        { afterAgentAudioMs: 200, line: { audio: tone(200), text: "excuse me" } },
      );
      await caller.hangUp();
      expect(bargeIn.bargedIn).toBe(true);
      expect(bargeIn.clearAfterMs).toBeNull();
    } finally {
      await stubborn.close();
    }
  }, 20_000);
});

describe("an agent that never answers", () => {
  it("is reported as a timed-out turn, not a hang", async () => {
    const silent = await startFakeMediaNode();
    try {
      const started = performance.now();
      const report = await placeSimulatedCall({
        streamUrl: silent.url,
        replyTimeoutMs: 400,
        waitForGreeting: false,
        script: [{ line: { audio: tone(100), text: "anyone there?" } }],
      });
      expect(performance.now() - started).toBeLessThan(3000);
      expect(report.turns[0]?.timedOut).toBe(true);
      expect(report.turns[0]?.firstAgentAudioMs).toBeNull();
      expect(report.errors.some((e) => /no agent reply/.test(e))).toBe(true);
    } finally {
      await silent.close();
    }
  });
});
