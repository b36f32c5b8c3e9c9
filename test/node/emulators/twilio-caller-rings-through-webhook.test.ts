import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import twilio from "twilio";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendStatusCallback } from "../../../emulators/twilio-caller/status-callback.ts";
import { parseTwiml, placeCallViaWebhook, TwimlError } from "../../../emulators/twilio-caller/webhook.ts";
import { type FakeMediaNode, startFakeMediaNode } from "./support/fake-media-node.ts";

const AUTH_TOKEN = "test-auth-token-0123456789abcdef";
const NOT_IN_SERVICE = "+15550000000";

interface Hit {
  path: string;
  params: Record<string, string>;
  signatureValid: boolean;
}

/** Plays the edge: checks the signature with the twilio package, answers TwiML by number and path. */
let edge: Server;
let edgeUrl: string;
let media: FakeMediaNode;
const hits: Hit[] = [];

beforeAll(async () => {
  media = await startFakeMediaNode();
  edge = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const params = Object.fromEntries(new URLSearchParams(body));
      const url = `${edgeUrl}${req.url}`;
      const signatureValid = twilio.validateRequest(
        AUTH_TOKEN,
        String(req.headers["x-twilio-signature"] ?? ""),
        url,
        params,
      );
      hits.push({ path: req.url ?? "", params, signatureValid });
      const twiml = (xml: string) => {
        res.writeHead(200, { "content-type": "text/xml" });
        res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`);
      };
      if (!signatureValid) {
        res.writeHead(403).end("bad signature");
      } else if (req.url === "/status") {
        res.writeHead(204).end();
      } else if (req.url === "/broken") {
        res.writeHead(500).end("boom");
      } else if (req.url === "/not-xml") {
        twiml("<Response><Say>unclosed</Response>");
      } else if (req.url === "/query-stream") {
        twiml(`<Response><Connect><Stream url="${media.url}?token=x"/></Connect></Response>`);
      } else if (req.url === "/redirect") {
        twiml("<Response><Redirect>/voice</Redirect></Response>");
      } else if (params.To === NOT_IN_SERVICE) {
        twiml('<Response><Say voice="Polly.Joanna">This number is not in service.</Say><Hangup/></Response>');
      } else {
        twiml(
          `<Response>
            <Say>This call may be recorded &amp; reviewed.</Say>
            <Connect>
              <Stream url="${media.url}" name="agent">
                <Parameter name="token" value="tok_${params.CallSid}"/>
                <Parameter name="region" value="eu-west"/>
              </Stream>
            </Connect>
            <Say>Goodbye</Say>
          </Response>`,
        );
      }
    });
  });
  await new Promise<void>((resolve) => edge.listen(0, "127.0.0.1", resolve));
  edgeUrl = `http://127.0.0.1:${(edge.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await media.close();
  await new Promise<void>((resolve) => edge.close(() => resolve()));
});

describe("ringing the platform through its voice webhook", () => {
  it("posts Twilio's signed inbound-call params, then opens the stream with the TwiML parameters", async () => {
    const result = await placeCallViaWebhook({
      voiceUrl: `${edgeUrl}/voice`,
      authToken: AUTH_TOKEN,
      from: "+447700900123",
      to: "+14155550100",
    });
    expect(result.outcome).toBe("connected");
    if (result.outcome !== "connected") return;

    const hit = hits.find((h) => h.params.CallSid === result.callSid);
    expect(hit?.signatureValid).toBe(true);
    expect(hit?.params).toMatchObject({
      AccountSid: result.accountSid,
      ApiVersion: "2010-04-01",
      CallStatus: "ringing",
      Direction: "inbound",
      From: "+447700900123",
      Caller: "+447700900123",
      FromCountry: "GB",
      To: "+14155550100",
      Called: "+14155550100",
      ToCountry: "US",
    });
    expect(result.callSid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(result.spoken).toEqual(["This call may be recorded & reviewed."]);
    expect(result.stream.parameters).toEqual({ token: `tok_${result.callSid}`, region: "eu-west" });
    expect(result.afterStream).toEqual([{ verb: "Say", text: "Goodbye" }]);

    const conn = await media.nextConnection();
    const start = await conn.waitFor((r) => r.msg.event === "start");
    const body = start.msg.start as Record<string, unknown>;
    expect(body.customParameters).toEqual({ token: `tok_${result.callSid}`, region: "eu-west" });
    expect(body.callSid).toBe(result.callSid);
    expect(body.accountSid).toBe(result.accountSid);
    // The upgrade is signed over the stream URL with no params, as Twilio signs Media Streams.
    const upgradeSignature = String(conn.request.headers["x-twilio-signature"]);
    expect(twilio.validateRequest(AUTH_TOKEN, upgradeSignature, media.url, {})).toBe(true);
    await result.caller.hangUp();
  });

  it("follows a <Redirect> and signs the request to the new URL", async () => {
    const result = await placeCallViaWebhook({
      voiceUrl: `${edgeUrl}/redirect`,
      authToken: AUTH_TOKEN,
      from: "+14155550111",
      to: "+14155550100",
    });
    expect(result.outcome).toBe("connected");
    if (result.outcome === "connected") await result.caller.hangUp();
    expect(hits.filter((h) => h.params.CallSid === result.callSid).map((h) => [h.path, h.signatureValid])).toEqual([
      ["/redirect", true],
      ["/voice", true],
    ]);
    await media.nextConnection();
  });

  it("returns what the platform said when it refuses the call", async () => {
    const result = await placeCallViaWebhook({
      voiceUrl: `${edgeUrl}/voice`,
      authToken: AUTH_TOKEN,
      from: "+14155550111",
      to: NOT_IN_SERVICE,
    });
    expect(result.outcome).toBe("refused");
    if (result.outcome !== "refused") return;
    expect(result.spoken.join(" ")).toMatch(/not in service/);
    expect(result.twiml).toEqual([
      { verb: "Say", text: "This number is not in service.", voice: "Polly.Joanna" },
      { verb: "Hangup" },
    ]);
  });

  it("turns a rejected signature, an HTTP error, bad XML and a query-string stream URL into Twilio's error codes", async () => {
    const base = { from: "+14155550111", to: "+14155550100" };
    const wrongToken = await placeCallViaWebhook({ ...base, voiceUrl: `${edgeUrl}/voice`, authToken: "wrong" });
    expect(wrongToken).toMatchObject({ outcome: "error", code: 11200, httpStatus: 403 });
    const broken = await placeCallViaWebhook({ ...base, voiceUrl: `${edgeUrl}/broken`, authToken: AUTH_TOKEN });
    expect(broken).toMatchObject({ outcome: "error", code: 11200, httpStatus: 500 });
    const notXml = await placeCallViaWebhook({ ...base, voiceUrl: `${edgeUrl}/not-xml`, authToken: AUTH_TOKEN });
    expect(notXml).toMatchObject({ outcome: "error", code: 12100 });
    const query = await placeCallViaWebhook({ ...base, voiceUrl: `${edgeUrl}/query-stream`, authToken: AUTH_TOKEN });
    expect(query).toMatchObject({ outcome: "error", code: 31920 });
    if (broken.outcome === "error") expect(broken.spoken[0]).toMatch(/application error/);
  });

  it("sends signed status callbacks", async () => {
    const res = await sendStatusCallback({
      statusUrl: `${edgeUrl}/status`,
      authToken: AUTH_TOKEN,
      callSid: "CA00000000000000000000000000000001",
      status: "completed",
      duration: 42,
    });
    expect(res.status).toBe(204);
    const hit = hits.find((h) => h.path === "/status");
    expect(hit?.signatureValid).toBe(true);
    expect(hit?.params).toMatchObject({ CallStatus: "completed", CallDuration: "42" });
  });

  it("says so when nothing is listening at the voice URL", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(
      placeCallViaWebhook({ voiceUrl: `http://127.0.0.1:${port}/voice`, authToken: "x", from: "+1", to: "+1" }),
    ).rejects.toThrow(/nothing is listening at http:\/\/127\.0\.0\.1:\d+\/voice; start the platform with npm start/);
  });
});

describe("reading TwiML", () => {
  it("reads verbs, attributes, entities, comments and self-closing tags", () => {
    const verbs = parseTwiml(`<?xml version="1.0"?>
      <!-- answer -->
      <Response>
        <Pause length="2"/>
        <Say language="en-GB">Fish &amp; chips &#163;5 &#x263A;</Say>
        <Reject reason="busy"/>
        <Gather input="speech"/>
      </Response>`);
    expect(verbs).toEqual([
      { verb: "Pause", lengthSeconds: 2 },
      { verb: "Say", text: "Fish & chips £5 ☺", language: "en-GB" },
      { verb: "Reject", reason: "busy" },
      { verb: "Other", name: "Gather", attributes: { input: "speech" }, text: "" },
    ]);
  });

  it("rejects documents Twilio could not parse", () => {
    expect(() => parseTwiml("<Response><Say>hi</Response>")).toThrow(TwimlError);
    expect(() => parseTwiml("<Hello/>")).toThrow(/not <Response>/);
    expect(() => parseTwiml("")).toThrow(TwimlError);
    expect(() => parseTwiml("<Response><Connect><Stream/></Connect></Response>")).toThrow(/without a url/);
  });
});
