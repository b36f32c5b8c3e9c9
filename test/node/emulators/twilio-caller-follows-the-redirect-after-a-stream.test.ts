// Twilio runs the TwiML after <Connect><Stream> when the stream ends while the caller is still on the line. The
// simulated caller does the same: when its media node dies mid-call it fetches the <Redirect> (signed, the call's
// params, CallStatus=in-progress), opens the new <Connect><Stream> with a new StreamSid, and keeps talking; when the
// platform answers <Hangup/>, the call ends.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import twilio from "twilio";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { placeCallViaWebhook } from "../../../emulators/twilio-caller/webhook.ts";
import { type FakeMediaNode, type MediaConnection, startFakeMediaNode, tone } from "./support/fake-media-node.ts";

const AUTH_TOKEN = "test-auth-token-redirect-follow";

let edge: Server;
let edgeUrl: string;
let media: FakeMediaNode;
const hits: { path: string; params: Record<string, string>; signatureValid: boolean }[] = [];
/** How many times each call was sent to a stream; the third request hangs up. */
const legs = new Map<string, number>();

beforeAll(async () => {
  media = await startFakeMediaNode();
  edge = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const params = Object.fromEntries(new URLSearchParams(body));
      const signatureValid = twilio.validateRequest(
        AUTH_TOKEN,
        String(req.headers["x-twilio-signature"] ?? ""),
        `${edgeUrl}${req.url}`,
        params,
      );
      hits.push({ path: req.url ?? "", params, signatureValid });
      if (!signatureValid) {
        res.writeHead(403).end();
        return;
      }
      const leg = (legs.get(params.CallSid ?? "") ?? 0) + 1;
      legs.set(params.CallSid ?? "", leg);
      res.writeHead(200, { "content-type": "text/xml" });
      res.end(
        leg > 2
          ? "<Response><Hangup/></Response>"
          : `<Response><Connect><Stream url="${media.url}"><Parameter name="leg" value="${leg}"/></Stream></Connect>` +
              `<Redirect method="POST">/after-stream?callId=call_x</Redirect></Response>`,
      );
    });
  });
  await new Promise<void>((resolve) => edge.listen(0, "127.0.0.1", resolve));
  edgeUrl = `http://127.0.0.1:${(edge.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await media.close();
  await new Promise<void>((resolve) => edge.close(() => resolve()));
});

const voiced = (conn: MediaConnection) =>
  conn.events("media").filter((r) => {
    const payload = Buffer.from(String((r.msg.media as { payload: string }).payload), "base64");
    return payload.some((b) => b !== 0xff && b !== 0x7f);
  }).length;

describe("the simulated Twilio caller when its stream ends mid-call", () => {
  it("follows the <Redirect> to a new stream and keeps talking across the switch", async () => {
    const placed = await placeCallViaWebhook({
      voiceUrl: `${edgeUrl}/voice`,
      authToken: AUTH_TOKEN,
      from: "+14155550111",
      to: "+14155550100",
    });
    if (placed.outcome !== "connected") throw new Error(`not connected: ${JSON.stringify(placed)}`);
    const { caller } = placed;
    const first = await media.nextConnection();
    const firstStart = await first.waitFor((r) => r.msg.event === "start");
    expect((firstStart.msg.start as { customParameters: unknown }).customParameters).toEqual({ leg: "1" });

    // The caller starts a long sentence; the node dies in the middle of it (no close frame, as with kill -9).
    const speaking = caller.say({ audio: tone(1_500), text: "a long sentence" });
    await first.waitFor((r) => r.msg.event === "media" && voiced(first) > 10);
    first.ws.terminate();

    const second = await media.nextConnection();
    const secondStart = await second.waitFor((r) => r.msg.event === "start");
    const started = secondStart.msg as unknown as {
      sequenceNumber: string;
      streamSid: string;
      start: Record<string, unknown>;
    };
    expect(started.start.customParameters).toEqual({ leg: "2" });
    expect(started.start.callSid).toBe(placed.callSid);
    expect(started.streamSid).not.toBe(first.streamSid);
    expect(started.sequenceNumber).toBe("1");
    // The rest of the sentence arrives on the new stream, chunks counted from 1 again.
    await second.waitFor((r) => r.msg.event === "media" && voiced(second) > 5);
    const firstMedia = second.events("media")[0]?.msg.media as { chunk: string };
    expect(firstMedia.chunk).toBe("1");
    expect(caller.isClosed).toBe(false);

    const redirect = hits.filter((h) => h.params.CallSid === placed.callSid)[1];
    expect(redirect).toMatchObject({
      path: "/after-stream?callId=call_x",
      signatureValid: true,
      params: { CallSid: placed.callSid, AccountSid: placed.accountSid, CallStatus: "in-progress" },
    });

    // This time the platform ends the call: the redirect answers <Hangup/> and the caller is done.
    second.ws.close(1000);
    await caller.closedPromise();
    await speaking;
    const report = caller.report();
    expect(report.endedBy).toBe("server");
    expect(report.streams.map((s) => s.streamSid)).toEqual([first.streamSid, second.streamSid]);
    expect(report.streams[0]?.closeCode).toBe(1006);
    expect(hits.filter((h) => h.params.CallSid === placed.callSid).map((h) => h.path)).toEqual([
      "/voice",
      "/after-stream?callId=call_x",
      "/after-stream?callId=call_x",
    ]);
  });

  it("ends the call with the stream when the caller hangs up", async () => {
    const placed = await placeCallViaWebhook({
      voiceUrl: `${edgeUrl}/voice`,
      authToken: AUTH_TOKEN,
      from: "+14155550112",
      to: "+14155550100",
    });
    if (placed.outcome !== "connected") throw new Error("not connected");
    const conn = await media.nextConnection();
    await conn.waitFor((r) => r.msg.event === "start");
    await placed.caller.hangUp();
    expect(await conn.waitForClose()).toBe(1000);
    // A hang-up is the end of the call: Twilio runs no more TwiML.
    expect(hits.filter((h) => h.params.CallSid === placed.callSid)).toHaveLength(1);
  });
});
