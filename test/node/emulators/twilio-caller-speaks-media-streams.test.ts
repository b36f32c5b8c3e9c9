import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedCaller } from "../../../emulators/twilio-caller/caller.ts";
import {
  type FakeMediaNode,
  type MediaConnection,
  payloadOf,
  silence,
  startFakeMediaNode,
  tone,
} from "./support/fake-media-node.ts";

let node: FakeMediaNode;

/** A port nobody listens on: bound once by the OS, then released. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
beforeAll(async () => {
  node = await startFakeMediaNode();
});
afterAll(() => node.close());

describe("the simulated caller speaks Twilio Media Streams", () => {
  let conn: MediaConnection;
  let caller: SimulatedCaller;
  const said = tone(300);

  beforeAll(async () => {
    caller = await SimulatedCaller.connect({
      streamUrl: node.url,
      customParameters: { token: "tok_abc", tenantId: "t_1" },
      replyTimeoutMs: 200,
    });
    conn = await node.nextConnection();
    await caller.pause(600);
    await caller.say({ audio: said, text: "beep" });
    await caller.sendDtmf("1#", 100);
    await caller.pause(900);
    await caller.hangUp();
    await conn.waitForClose();
  }, 20_000);

  it("opens with connected, then start carrying the stream identifiers and the TwiML parameters", () => {
    const [first, second] = conn.received;
    expect(first?.msg).toEqual({ event: "connected", protocol: "Call", version: "1.0.0" });
    const start = second?.msg as unknown as Record<string, unknown> & { start: Record<string, unknown> };
    expect(start.event).toBe("start");
    expect(start.sequenceNumber).toBe("1");
    expect(start.streamSid).toMatch(/^MZ[0-9a-f]{32}$/);
    expect(start.start.streamSid).toBe(start.streamSid);
    expect(start.start.callSid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(start.start.accountSid).toMatch(/^AC[0-9a-f]{32}$/);
    expect(start.start.tracks).toEqual(["inbound"]);
    expect(start.start.customParameters).toEqual({ token: "tok_abc", tenantId: "t_1" });
    expect(start.start.mediaFormat).toEqual({ encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 });
    expect(caller.callSid).toBe(start.start.callSid);
  });

  it("numbers every message after connected consecutively and chunks consecutively, with stream-relative timestamps", () => {
    const sequenced = conn.received.slice(1).map((r) => Number(r.msg.sequenceNumber));
    expect(sequenced).toEqual(sequenced.map((_, i) => i + 1));
    const media = conn.events("media");
    media.forEach((r, i) => {
      const m = r.msg.media as Record<string, string>;
      expect(m.track).toBe("inbound");
      expect(m.chunk).toBe(String(i + 1));
      expect(m.timestamp).toBe(String(i * 20));
      expect(m.payload).toHaveLength(216);
      expect(r.msg.streamSid).toBe(conn.streamSid);
    });
  });

  it("sends 160-byte frames of 0xFF silence around the line and the line's audio in order", () => {
    const frames = conn.events("media").map(payloadOf);
    expect(frames.every((f) => f.length === 160)).toBe(true);
    const all = Buffer.concat(frames);
    const at = all.indexOf(Buffer.from(said));
    expect(at).toBeGreaterThan(0);
    expect(at % 160).toBe(0);
    expect(all.subarray(0, at).equals(Buffer.from(silence(at / 8)))).toBe(true);
    const after = all.subarray(at + said.length);
    expect(after.length).toBeGreaterThan(1000);
    expect(after.every((b) => b === 0xff)).toBe(true);
  });

  it("paces media at 20 ms against the clock without drifting", () => {
    const media = conn.events("media");
    const first = media[0]!;
    const last = media[media.length - 1]!;
    const elapsed = last.at - first.at;
    // ~2 s of call: the frame count follows the wall clock, and the last frame arrives when it is due.
    expect(media.length).toBeGreaterThan(80);
    expect(Math.abs(elapsed - (media.length - 1) * 20)).toBeLessThan(150);
    const gaps = media.slice(1).map((r, i) => r.at - media[i]!.at);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(mean).toBeGreaterThan(17);
    expect(mean).toBeLessThan(23);
  });

  it("presses keys as dtmf events on the inbound_track", () => {
    const dtmf = conn.events("dtmf").map((r) => r.msg);
    expect(dtmf.map((d) => (d.dtmf as Record<string, string>).digit)).toEqual(["1", "#"]);
    for (const d of dtmf) {
      expect(d.streamSid).toBe(conn.streamSid);
      expect((d.dtmf as Record<string, string>).track).toBe("inbound_track");
    }
    expect(caller.report().dtmfSent).toBe(2);
  });

  it("hangs up with stop as the last message and a normal close", () => {
    const last = conn.received[conn.received.length - 1]!.msg;
    expect(last.event).toBe("stop");
    expect(last.stop).toEqual({ accountSid: caller.accountSid, callSid: caller.callSid });
    expect(conn.closeCode).toBe(1000);
    const report = caller.report();
    expect(report.endedBy).toBe("caller");
    expect(report.framesSent).toBe(conn.events("media").length);
  });
});

describe("the simulated caller on a stream the server ends", () => {
  it("stops sending and reports that the server closed the stream", async () => {
    const caller = await SimulatedCaller.connect({ streamUrl: node.url });
    const conn = await node.nextConnection();
    await conn.waitFor((r) => r.msg.event === "media");
    conn.ws.close(1000, "agent hung up");
    await caller.closedPromise();
    const report = caller.report();
    expect(report.endedBy).toBe("server");
    expect(report.closeCode).toBe(1000);
    // Nothing more is attempted on a closed call; hangUp is harmless.
    await caller.hangUp();
    await caller.runScript(["anything"]);
    expect(caller.report().errors.some((e) => /closed/.test(e))).toBe(true);
  });

  it("reports invalid server messages the way Twilio flags them (31924) and keeps the call up", async () => {
    const caller = await SimulatedCaller.connect({ streamUrl: node.url });
    const conn = await node.nextConnection();
    await conn.waitFor((r) => r.msg.event === "start");
    conn.ws.send("not json");
    conn.send({ event: "speak", streamSid: conn.streamSid });
    conn.send({ event: "media", streamSid: "MZ-someone-else", media: { payload: "//8=" } });
    await caller.pause(200);
    const errors = caller.report().errors;
    expect(errors.filter((e) => e.startsWith("31924"))).toHaveLength(2);
    expect(errors.some((e) => e.includes("MZ-someone-else"))).toBe(true);
    expect(caller.isClosed).toBe(false);
    await caller.hangUp();
  });

  it("names the problem when nothing is listening", async () => {
    const port = await freePort();
    await expect(SimulatedCaller.connect({ streamUrl: `ws://127.0.0.1:${port}/media` })).rejects.toThrow(
      /nothing is listening at ws:\/\/127\.0\.0\.1:\d+\/media; start the platform with npm start/,
    );
  });
});

describe("the simulated caller in Telnyx mode", () => {
  it("uses Telnyx's snake_case fields and PCMU media format", async () => {
    const caller = await SimulatedCaller.connect({
      streamUrl: node.url,
      provider: "telnyx",
      from: "+13125550100",
      to: "+13125550199",
      customParameters: { token: "x" },
    });
    const conn = await node.nextConnection();
    await conn.waitFor((r) => r.msg.event === "media");
    await caller.hangUp();
    await conn.waitForClose();
    const [connected, start, media] = conn.received.map((r) => r.msg);
    expect(connected).toEqual({ event: "connected", version: "1.0.0" });
    expect(start).toMatchObject({
      event: "start",
      sequence_number: "1",
      start: {
        from: "+13125550100",
        to: "+13125550199",
        custom_parameters: { token: "x" },
        media_format: { encoding: "PCMU", sample_rate: 8000, channels: 1 },
      },
    });
    expect(start?.stream_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(media).toMatchObject({ event: "media", sequence_number: "2", stream_id: start?.stream_id });
    expect(conn.received[conn.received.length - 1]?.msg.event).toBe("stop");
  });
});
