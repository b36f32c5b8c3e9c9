// A call on the media node with the real Bedrock client against the emulator, whose scripted replies ask for a text
// and a transfer. The node asks the edge (a small signed-request server here) to act, publishes the action with the
// arguments the edge accepted, and when the edge refuses, the model is told so and the caller hears an honest line,
// never "connecting you now".
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type BedrockEmulator, startBedrockEmulator } from "../../../../emulators/bedrock/index.ts";
import { bedrockLlm } from "../../../../media-nodes/src/providers/bedrock/llm.ts";
import { FakeStt } from "../../../../media-nodes/src/providers/fake/index.ts";
import type { LlmProvider } from "../../../../media-nodes/src/providers/types.ts";
import { verifyNodeRequest } from "../../../../shared/media-node-auth.ts";
import { type Harness, startHarness, until } from "../support/harness.ts";
import { TwilioTestClient } from "../support/twilio-client.ts";

const NODE_SECRET = "node-test-secret-for-tools";
const CALLER = "+14155550188";
const DESK = "+14155550123";

interface EdgeCall {
  callId: string;
  body: Record<string, unknown>;
}

let br: BedrockEmulator;
let h: Harness;
let edgeServer: Server;
const edgeCalls: EdgeCall[] = [];
/** What the fake edge answers to a transfer: the tests flip it. */
let transferAnswer: { status: number; body: unknown } = { status: 200, body: {} };

beforeAll(async () => {
  br = await startBedrockEmulator({ port: 0, profile: "instant" });
  edgeServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
      const verdict = await verifyNodeRequest({
        secrets: { "node-test": NODE_SECRET },
        headers: { get: (name) => (req.headers[name] as string | undefined) ?? null },
        method: req.method ?? "GET",
        url: url.toString(),
        body,
      });
      const send = (status: number, payload: unknown, type = "application/json") =>
        res.writeHead(status, { "content-type": type }).end(JSON.stringify(payload));
      if (!verdict.ok) return send(401, { detail: verdict.reason }, "application/problem+json");
      const m = /^\/v1\/calls\/([^/]+)\/actions$/.exec(url.pathname);
      if (req.method !== "POST" || !m) return send(404, { detail: "no route" });
      const request = JSON.parse(body) as Record<string, unknown>;
      edgeCalls.push({ callId: decodeURIComponent(m[1]!), body: request });
      if (request.type === "send_sms") {
        return send(200, { type: "send_sms", status: "sent", to: request.to ?? CALLER, messageSid: "SM123" });
      }
      if (request.type === "transfer_call") {
        const type = transferAnswer.status === 200 ? "application/json" : "application/problem+json";
        return send(transferAnswer.status, transferAnswer.body, type);
      }
      send(403, { type: "https://aybiza.dev/problems/not-allowed", detail: "no" }, "application/problem+json");
    });
  });
  await new Promise<void>((resolve) => edgeServer.listen(0, "127.0.0.1", resolve));
  const edgeUrl = `http://127.0.0.1:${(edgeServer.address() as AddressInfo).port}`;

  const bedrock = bedrockLlm({
    region: "us-east-1",
    endpoint: br.url,
    credentials: { accessKeyId: "emulator", secretAccessKey: "emulator" },
  });
  // The emulator plays a script for requests tagged with it; the call ID is the tag.
  const scripted: LlmProvider = {
    name: bedrock.name,
    stream: (request) =>
      bedrock.stream({ ...request, metadata: { ...request.metadata, scriptTag: request.metadata?.callId ?? "" } }),
  };
  h = await startHarness({
    agent: {
      firstMessage: null,
      tools: [
        {
          name: "send_sms",
          description: "Text the caller.",
          inputSchema: { type: "object", properties: { body: { type: "string" } }, required: ["body"] },
          builtin: "send_sms",
        },
        {
          name: "transfer_call",
          description: "Transfer the caller to the front desk.",
          inputSchema: { type: "object", properties: { reason: { type: "string" } } },
          builtin: "transfer_call",
          allow: { numbers: [DESK] },
        },
      ],
    },
    llmProvider: scripted,
    tts: { bytesPerChar: 8, firstByteMs: 5 },
    env: { SESSION_SINK_URL: `${edgeUrl}/v1`, MEDIA_NODE_SECRET: NODE_SECRET },
  });
});

afterAll(async () => {
  await h?.close();
  await br?.close();
  await new Promise<void>((resolve) => {
    edgeServer?.closeAllConnections();
    edgeServer?.close(() => resolve());
  });
});

async function oneTurn(callId: string, line: string) {
  const caller = await TwilioTestClient.connect(h.wsUrl());
  caller.start(await h.token({ callId }));
  await until(() => h.sink.ofType("call.started", callId).length === 1, "the call to start");
  caller.talk(true);
  await new Promise((r) => setTimeout(r, 200));
  caller.talk(false);
  h.stt.emit(FakeStt.final(line));
  await until(() => h.sink.ofType("turn", callId).length === 1, "the turn to be recorded", 15_000);
  await caller.hangUp();
  return h.sink.ofType("turn", callId)[0]!;
}

test("a text the model asks for is sent by the edge to the caller, and published with its arguments", async () => {
  const callId = "call_tools_sms_1";
  br.setScript(callId, [
    { text: "Sure, I'll text you the address.", toolUses: [{ name: "send_sms", input: { body: "12 Spoke St" } }] },
    { text: "Done, it's on its way to your phone." },
  ]);
  const turn = await oneTurn(callId, "Can you text me your address?");
  expect(edgeCalls.filter((c) => c.callId === callId).map((c) => c.body)).toEqual([
    { type: "send_sms", body: "12 Spoke St" },
  ]);
  expect(h.sink.ofType("action", callId).map((a) => a.action)).toEqual([
    { type: "send_sms", to: CALLER, body: "12 Spoke St" },
  ]);
  expect(turn.tools).toMatchObject([{ name: "send_sms", ok: true }]);
  expect(turn.assistantText).toContain("on its way");
}, 30_000);

test("a transfer the edge accepts is published for the edge to carry out after the turn", async () => {
  const callId = "call_tools_transfer_ok";
  transferAnswer = { status: 200, body: { type: "transfer_call", status: "scheduled", to: DESK } };
  br.setScript(callId, [
    { text: "Connecting you to the front desk.", toolUses: [{ name: "transfer_call", input: {} }] },
  ]);
  await oneTurn(callId, "Put me through to a person please.");
  expect(edgeCalls.filter((c) => c.callId === callId).map((c) => c.body)).toEqual([
    { type: "transfer_call", to: DESK },
  ]);
  expect(h.sink.ofType("action", callId).map((a) => a.action)).toEqual([{ type: "transfer_call", to: DESK }]);
}, 30_000);

test("a transfer the edge refuses publishes nothing, and the caller hears that it did not happen", async () => {
  const callId = "call_tools_transfer_refused";
  transferAnswer = {
    status: 422,
    body: {
      type: "https://aybiza.dev/problems/not-supported",
      title: "not-supported",
      status: 422,
      detail: "This call cannot be transferred (only Twilio phone calls can).",
    },
  };
  // Only the first reply is scripted: what the model says after the tool result is the emulator's own answer to it.
  br.setScript(callId, [{ text: "One moment.", toolUses: [{ name: "transfer_call", input: {} }] }]);
  const turn = await oneTurn(callId, "I want to speak to a manager.");
  expect(h.sink.ofType("action", callId)).toEqual([]);
  expect(turn.tools).toMatchObject([{ name: "transfer_call", ok: false }]);
  // The model got the refusal as an error result, with the edge's reason.
  const answered = br
    .requests()
    .filter((r) => JSON.stringify(r).includes("only Twilio phone calls can"))
    .at(-1);
  expect(answered).toBeDefined();
  expect(JSON.stringify(answered)).toContain('"status":"error"');
  expect(turn.assistantText).toMatch(/sorry, I wasn't able to/i);
  expect(turn.assistantText).not.toMatch(/connecting you/i);
}, 30_000);
