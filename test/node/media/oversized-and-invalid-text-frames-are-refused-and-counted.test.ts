// A text message over the node's 64 KB limit is refused with a real close frame, 1009, and counted; a text message
// that is not UTF-8 is refused by uWebSockets.js itself (it drops the connection, 1006: it has no way to send 1007)
// and counted all the same. Either way the node keeps serving the next caller. Real `ws` clients, node in-process.
import { afterEach, expect, test } from "vitest";
import WebSocket from "ws";
import { MAX_MESSAGE_BYTES, UWS_MAX_PAYLOAD_BYTES } from "../../../media-nodes/src/server/frame-limits.ts";
import { type Harness, startHarness } from "./support/harness.ts";

let h: Harness | undefined;
afterEach(async () => h?.close());

/** Opens a socket, sends one text message as raw bytes, and reports how the node closed it. */
async function sendAndClose(url: string, payload: Buffer): Promise<{ code: number; reason: string }> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return new Promise((resolve) => {
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.on("error", () => undefined);
    ws.send(payload, { binary: false });
  });
}

test("an oversized text message closes with 1009 and is counted", async () => {
  h = await startHarness();
  const bad = h.node.metrics.badMessages;
  const closed = await sendAndClose(h.wsUrl(), Buffer.alloc(MAX_MESSAGE_BYTES + 1, 0x61));
  expect(closed.code).toBe(1009);
  expect(closed.reason).toContain(String(MAX_MESSAGE_BYTES));
  expect(bad.get({ reason: "message-too-big" })).toBe(1);

  // A message exactly at the limit is read (and refused by the codec as what it is, not as too big).
  const ws = new WebSocket(h.wsUrl());
  await new Promise((resolve) => ws.once("open", resolve));
  ws.send(Buffer.alloc(MAX_MESSAGE_BYTES, 0x61), { binary: false });
  ws.send(JSON.stringify({ event: "connected", protocol: "Call", version: "1.0.0" }));
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(ws.readyState).toBe(WebSocket.OPEN);
  expect(bad.get({ reason: "message-too-big" })).toBe(1);
  ws.close();
});

test("a flood beyond uWebSockets' own limit is dropped, and still counted", async () => {
  h = await startHarness();
  const closed = await sendAndClose(h.wsUrl(), Buffer.alloc(UWS_MAX_PAYLOAD_BYTES + 1, 0x61));
  expect(closed.code).toBe(1006);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(h.node.metrics.badMessages.get({ reason: "message-too-big" })).toBe(1);
});

test("a text message that is not UTF-8 ends the socket, is counted, and the node serves the next caller", async () => {
  h = await startHarness();
  const closed = await sendAndClose(h.wsUrl(), Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]));
  // uWebSockets.js fails the connection itself, before any of our code sees the frame (frame-limits.ts).
  expect(closed.code).toBe(1006);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(h.node.metrics.badMessages.get({ reason: "invalid-utf8" })).toBe(1);

  const next = new WebSocket(h.wsUrl());
  await new Promise((resolve, reject) => {
    next.once("open", resolve);
    next.once("error", reject);
  });
  next.close();
});
