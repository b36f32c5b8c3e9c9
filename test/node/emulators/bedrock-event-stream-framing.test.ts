// The emulator's event-stream encoder, checked against the SDK's own codec (which verifies both CRCs)
// and against the reference vector in protocols.md §6.3.
import { EventStreamCodec, getChunkedStream } from "@smithy/core/event-streams";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BedrockEmulator,
  encodeEvent,
  encodeException,
  startBedrockEmulator,
} from "../../../emulators/bedrock/index.ts";
import { FAKE_SIGV4, PHONE_TOOLS, rawRequest, SONNET } from "./bedrock-client.ts";

const codec = () =>
  new EventStreamCodec(
    (bytes) => Buffer.from(bytes).toString("utf8"),
    (text) => new Uint8Array(Buffer.from(text, "utf8")),
  );

function decodeOne(bytes: Uint8Array) {
  return codec().decode(bytes);
}

/** Split a response body into messages with the SDK's chunker, fed in odd-sized pieces as a socket would. */
async function decodeStream(bytes: Uint8Array) {
  async function* pieces() {
    for (let i = 0; i < bytes.length; i += 7) yield bytes.subarray(i, i + 7);
  }
  const c = codec();
  const out = [];
  for await (const message of getChunkedStream(pieces())) out.push(c.decode(message));
  return out;
}

function headerValues(message: { headers: Record<string, { value: unknown }> }): Record<string, unknown> {
  return Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, v.value]));
}

let emulator: BedrockEmulator;
beforeAll(async () => {
  emulator = await startBedrockEmulator({ port: 0, profile: "instant" });
});
afterAll(async () => {
  await emulator.close();
});

describe("event-stream framing", () => {
  it("matches the protocol reference's messageStart vector byte for byte", () => {
    // protocols.md §6.3, checked there against botocore's decoder.
    const vector = [
      "000000760000005296d5fade0b3a6576656e742d7479706507000c6d65737361676553746172740d3a636f6e74656e742d",
      "747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22726f",
      "6c65223a22617373697374616e74227d6fa8c599",
    ].join("");
    expect(encodeEvent("messageStart", { role: "assistant" }).toString("hex")).toBe(vector);
  });

  it("produces frames the SDK codec decodes, and the codec notices a flipped payload byte", () => {
    const frame = encodeEvent("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "Sure, I can help." } });
    const decoded = decodeOne(frame);
    expect(headerValues(decoded)).toEqual({
      ":event-type": "contentBlockDelta",
      ":content-type": "application/json",
      ":message-type": "event",
    });
    expect(JSON.parse(Buffer.from(decoded?.body ?? []).toString("utf8")).delta.text).toBe("Sure, I can help.");

    const corrupted = Buffer.from(frame);
    corrupted[corrupted.length - 10] = (corrupted[corrupted.length - 10] ?? 0) ^ 0xff;
    expect(() => decodeOne(corrupted)).toThrow(/checksum/i);
  });

  it("frames exceptions with :message-type exception and the member name", () => {
    const decoded = decodeOne(encodeException("throttlingException", { message: "slow down" }));
    expect(headerValues(decoded)).toEqual({
      ":exception-type": "throttlingException",
      ":content-type": "application/json",
      ":message-type": "exception",
    });
  });

  it("serves a ConverseStream body that decodes frame by frame into the service's event order", async () => {
    const body = JSON.stringify({
      messages: [{ role: "user", content: [{ text: "Where is my order 48213?" }] }],
      toolConfig: { tools: PHONE_TOOLS },
    });
    const res = await rawRequest(emulator.url, `/model/${encodeURIComponent(SONNET)}/converse-stream`, body, {
      authorization: FAKE_SIGV4,
    });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("application/vnd.amazon.eventstream");
    const messages = await decodeStream(res.body);
    const types = messages.map((m) => headerValues(m)[":event-type"]);
    expect(types[0]).toBe("messageStart");
    expect(types).toContain("contentBlockStart");
    expect(types.slice(-2)).toEqual(["messageStop", "metadata"]);
    for (const m of messages) {
      expect(headerValues(m)[":message-type"]).toBe("event");
      expect(() => JSON.parse(Buffer.from(m.body).toString("utf8"))).not.toThrow();
    }
  });
});
