// With EDGE_URL set, the media node registers with its region's directory on the edge: signed heartbeats
// carrying the stream URL to advertise, live calls and capacity; draining is reported at once, not at the
// next tick; a node the edge does not know says which setting to fix.
import { afterEach, expect, test } from "vitest";
import { loadConfig } from "../../../media-nodes/src/config.ts";
import { type RunningMediaNode, runMediaNode } from "../../../media-nodes/src/server/run.ts";
import { generateCallTokenKeyPair } from "../../../shared/call-token.ts";
import { type FakeEdge, startFakeEdge } from "./support/fake-edge.ts";
import { until } from "./support/harness.ts";

const SECRET = "node-secret-for-tests-0123456789";
const running: { node?: RunningMediaNode; edge?: FakeEdge }[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.node?.close();
    await r.edge?.close();
  }
});

async function start(env: Record<string, string>) {
  const edge = await startFakeEdge({ "node-a": SECRET });
  const keys = await generateCallTokenKeyPair();
  const config = loadConfig({
    CALL_TOKEN_PUBLIC_KEYS: `${keys.kid}:${keys.publicKey}`,
    MEDIA_PORT: "0",
    MEDIA_REGION: "us-east-1",
    MEDIA_LOG_LEVEL: "silent",
    MEDIA_NODE_ID: "node-a",
    MEDIA_NODE_SECRET: SECRET,
    EDGE_URL: edge.url,
    MEDIA_MAX_CALLS: "40",
    ...env,
  });
  const node = await runMediaNode(config);
  running.push({ node, edge });
  return { edge, node };
}

test("the node registers with a signed heartbeat naming its stream URL, load and capacity", async () => {
  const { edge, node } = await start({});
  await node.heartbeat?.registered;
  expect(edge.refused).toBe(0);
  expect(edge.beats[0]).toMatchObject({
    nodeId: "node-a",
    body: {
      nodeId: "node-a",
      region: "us-east-1",
      streamBaseUrl: node.url.replace(/^http/, "ws"),
      activeCalls: 0,
      capacity: 40,
      draining: false,
    },
  });
  expect(typeof edge.beats[0]?.body.sentAt).toBe("number");
});

test("an advertised public URL is what the edge hears, and draining is reported at once", async () => {
  // A long interval: any second beat can only come from the drain.
  const { edge, node } = await start({ MEDIA_PUBLIC_URL: "wss://media-1.example.com/", MEDIA_HEARTBEAT_MS: "60000" });
  await node.heartbeat?.registered;
  expect(edge.beats[0]?.body.streamBaseUrl).toBe("wss://media-1.example.com");

  await node.drain(0);
  await until(() => edge.beats.length >= 2, "a heartbeat after drain");
  expect(edge.beats.at(-1)?.body).toMatchObject({ draining: true, activeCalls: 0 });
});

test("a node the edge does not know is told to fix MEDIA_NODE_ID / MEDIA_NODE_SECRET", async () => {
  const { edge, node } = await start({ MEDIA_NODE_SECRET: "some-other-secret-0123456789" });
  await until(() => node.heartbeat?.last !== undefined, "the first heartbeat answer");
  expect(node.heartbeat?.last).toMatchObject({ ok: false, status: 401 });
  expect(node.heartbeat?.last?.ok === false && node.heartbeat.last.reason).toMatch(/MEDIA_NODE_SECRETS/);
  expect(edge.beats).toHaveLength(0);
});

test("EDGE_URL without a node id or secret stops the node with one line naming the variable", () => {
  const base = { CALL_TOKEN_PUBLIC_KEYS: `k:${"A".repeat(43)}`, EDGE_URL: "http://127.0.0.1:8787" };
  expect(() => loadConfig({ ...base, MEDIA_NODE_ID: "n" })).toThrow(/^MEDIA_NODE_SECRET is required when EDGE_URL/);
  expect(() => loadConfig({ ...base, MEDIA_NODE_SECRET: SECRET })).toThrow(/^MEDIA_NODE_ID is required when EDGE_URL/);
  expect(() =>
    loadConfig({ ...base, MEDIA_NODE_ID: "n", MEDIA_NODE_SECRET: SECRET, MEDIA_PUBLIC_URL: "ws://h/x?a=1" }),
  ).toThrow(/^MEDIA_PUBLIC_URL must be a ws/);
  // Session events go to the same edge unless told otherwise.
  expect(loadConfig({ ...base, MEDIA_NODE_ID: "n", MEDIA_NODE_SECRET: SECRET }).sessionSink?.url).toBe(
    "http://127.0.0.1:8787/v1",
  );
});
