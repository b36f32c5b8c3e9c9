// How the emulator's /v1/listen refuses or ends streams: bad credentials and parameters at the handshake, garbage
// audio and idle streams with the service's close codes. The SDK must see each failure (reconnectAttempts: 0).
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../emulators/deepgram/index.ts";
import { openListen, sdk } from "./support/deepgram-sdk.ts";

let emulator: DeepgramEmulator;
let keyed: DeepgramEmulator;

beforeAll(async () => {
  emulator = await startDeepgramEmulator({ port: 0, silenceTimeoutMs: 1000 });
  keyed = await startDeepgramEmulator({ port: 0, apiKeys: ["key-one", "key-two"] });
});
afterAll(async () => {
  await Promise.all([emulator.close(), keyed.close()]);
});

const wsUrl = (base: string, query: string) => `${base.replace(/^http/, "ws")}/v1/listen?${query}`;

/** Raw handshake to read what the SDK hides: status, dg-error and the JSON body. */
function handshake(
  url: string,
  init: { headers?: Record<string, string>; protocols?: string[] } = {},
): Promise<{ status: number; headers: IncomingMessage["headers"]; body: string; protocol?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, init.protocols ?? [], { headers: init.headers });
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    ws.on("upgrade", (res) => {
      ws.once("open", () => {
        resolve({ status: 101, headers: res.headers, body: "", protocol: ws.protocol });
        ws.close();
      });
    });
    ws.on("error", (err) => {
      if (!String(err.message).includes("Unexpected server response")) reject(err);
    });
  });
}

describe("Deepgram emulator: listen handshake", () => {
  it("rejects the literal token 'invalid' and the SDK reports a 401", async () => {
    const dg = sdk(emulator.url, "invalid");
    const socket = await dg.listen.v1.connect({
      model: "nova-3",
      encoding: "mulaw",
      sample_rate: 8000,
      reconnectAttempts: 0,
    });
    const errors: Error[] = [];
    socket.on("error", (e) => errors.push(e));
    socket.connect();
    await expect(socket.waitForOpen()).rejects.toBeDefined();
    expect(errors.map((e) => e.message).join(" ")).toMatch(/401/);
  });

  it("answers 401 with dg-request-id, dg-error and an INVALID_AUTH body when no credential is sent", async () => {
    const res = await handshake(wsUrl(emulator.url, "model=nova-3&encoding=mulaw&sample_rate=8000"));
    expect(res.status).toBe(401);
    expect(res.headers["dg-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers["dg-error"]).toBeTruthy();
    const body = JSON.parse(res.body) as { err_code: string; err_msg: string; request_id: string };
    expect(body.err_code).toBe("INVALID_AUTH");
    expect(body.request_id).toBe(res.headers["dg-request-id"]);
  });

  it("accepts only configured keys when apiKeys is set, by header, Bearer, or the token subprotocol", async () => {
    const q = "model=nova-3&encoding=mulaw&sample_rate=8000";
    expect((await handshake(wsUrl(keyed.url, q), { headers: { Authorization: "Token other" } })).status).toBe(401);
    expect((await handshake(wsUrl(keyed.url, q), { headers: { Authorization: "Token key-one" } })).status).toBe(101);
    expect((await handshake(wsUrl(keyed.url, q), { headers: { Authorization: "Bearer key-two" } })).status).toBe(101);
    const browser = await handshake(wsUrl(keyed.url, q), { protocols: ["token", "key-two"] });
    expect(browser.status).toBe(101);
    // WHATWG clients fail the handshake unless the server selects one of their subprotocols.
    expect(browser.protocol).toBe("token");
    expect((await handshake(wsUrl(keyed.url, q), { protocols: ["token", "nope"] })).status).toBe(401);
  });

  it.each([
    ["encoding=mp4&sample_rate=8000", /encoding/],
    ["encoding=mulaw", /sample_rate/],
    ["encoding=mulaw&sample_rate=8000&interim_results=maybe", /interim_results/],
    ["encoding=mulaw&sample_rate=8000&endpointing=soon", /endpointing/],
    ["encoding=mulaw&sample_rate=8000&utterance_end_ms=1000", /interim_results/],
    ["model=nova-3&encoding=mulaw&sample_rate=8000&keywords=acme:2", /keyterm/],
    ["model=nova-2&encoding=mulaw&sample_rate=8000&keyterm=acme", /Nova-3/],
    ["model=galaxy-9&encoding=mulaw&sample_rate=8000", /model/],
    ["encoding=opus&sample_rate=48000", /emulator/],
  ])("refuses %s with 400 and a reason", async (query, reason) => {
    const res = await handshake(wsUrl(emulator.url, query), { headers: { Authorization: "Token k" } });
    expect(res.status).toBe(400);
    expect(String(res.headers["dg-error"])).toMatch(reason);
    expect((JSON.parse(res.body) as { err_msg: string }).err_msg).toMatch(reason);
  });

  it("the SDK sees a 400 for bad parameters", async () => {
    const dg = sdk(emulator.url);
    const socket = await dg.listen.v1.connect({ model: "nova-3", encoding: "mulaw", reconnectAttempts: 0 });
    const errors: Error[] = [];
    socket.on("error", (e) => errors.push(e));
    socket.connect();
    await expect(socket.waitForOpen()).rejects.toBeDefined();
    expect(errors.map((e) => e.message).join(" ")).toMatch(/400/);
  });
});

describe("Deepgram emulator: listen close codes", () => {
  it("closes a stream that goes quiet (no audio, no text) with 1011 NET-0001", async () => {
    const { rec } = await openListen(sdk(emulator.url), { model: "nova-3", encoding: "mulaw", sample_rate: 8000 });
    await rec.waitFor(() => rec.close !== null, 5000, "close");
    expect(rec.close).toEqual({ code: 1011, reason: "NET-0001" });
  });

  it("KeepAlive holds a silent stream open well past the timeout", async () => {
    const { socket, rec } = await openListen(sdk(emulator.url), {
      model: "nova-3",
      encoding: "mulaw",
      sample_rate: 8000,
    });
    const started = performance.now();
    while (performance.now() - started < 2500) {
      socket.sendKeepAlive({ type: "KeepAlive" });
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(rec.close).toBeNull();
    // KeepAlive gets no reply.
    expect(rec.messages).toHaveLength(0);
    await rec.waitFor(() => rec.close !== null, 5000, "idle close after keepalives stop");
    expect(rec.close?.code).toBe(1011);
  });

  it.each(["mulaw", "linear16"] as const)(
    "closes a %s stream of random bytes with 1008 DATA-0000",
    async (encoding) => {
      const { socket, rec } = await openListen(sdk(emulator.url), { model: "nova-3", encoding, sample_rate: 8000 });
      const garbage = randomBytes(encoding === "mulaw" ? 8000 : 16000);
      for (let off = 0; off < garbage.length && rec.close === null; off += 320)
        socket.sendMedia(garbage.subarray(off, off + 320));
      await rec.waitFor(() => rec.close !== null, 5000, "close");
      expect(rec.close).toEqual({ code: 1008, reason: "DATA-0000" });
    },
  );

  it("closes a stream without encoding whose bytes are no known container with 1008 DATA-0000", async () => {
    const { socket, rec } = await openListen(sdk(emulator.url), { model: "nova-3" });
    socket.sendMedia(Buffer.from("this is not a wav file, just some text pretending to be audio"));
    await rec.waitFor(() => rec.close !== null, 5000, "close");
    expect(rec.close).toEqual({ code: 1008, reason: "DATA-0000" });
  });

  it("still serves new streams after others failed, and reads WAV when no encoding is given", async () => {
    const dg = sdk(emulator.url);
    const { socket, rec } = await openListen(dg, { model: "nova-3", punctuate: "true", endpointing: 300 });
    const res = await dg.speak.v1.audio.generate({
      text: "Could you send me a confirmation by text message?",
      model: "aura-2-thalia-en",
      encoding: "linear16",
      sample_rate: 16000,
      container: "wav",
    });
    const wav = Buffer.from(await res.arrayBuffer());
    socket.sendMedia(wav.subarray(0, 30));
    socket.sendMedia(wav.subarray(30));
    socket.sendMedia(Buffer.alloc(16000 * 2));
    await rec.waitFor(() => rec.results().some((r) => r.speech_final), 5000, "final");
    expect(rec.results().find((r) => r.speech_final)?.channel.alternatives[0]?.transcript).toBe(
      "Hi, I'd like to book an appointment for next Tuesday.",
    );
    socket.close();
  });
});
