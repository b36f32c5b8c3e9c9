// Each call has a CallLedger Durable Object. Once a call is over and its object evicted (workerd does so after
// about ten idle seconds), nothing of it may stay in the edge's memory. It used to: touching ctx.storage.kv made
// workerd keep every evicted object's storage and SQLite database, so the edge grew with each call and never came
// down (docs/reliability.md, "Memory over time"). Counted in workerd's own heap snapshots, through its inspector.
import { afterAll, beforeAll, expect, test } from "vitest";
import { heartbeat, oneCall, seedTenant } from "../../../bench/edge.ts";
import { summarizeHeapSnapshot } from "../../../bench/lib/heap-snapshot.ts";
import { InspectorSession, workerTarget } from "../../../bench/lib/inspector.ts";
import { type LocalEdge, startLocalEdge } from "../../../scripts/local-edge.ts";
import { freePort } from "../../../scripts/platform/processes.ts";
import { tempDataDir } from "./support.ts";

const NODE = "node-memory-1";
const CALLS = 30;
let edge: LocalEdge;
let inspector: InspectorSession;

beforeAll(async () => {
  const inspectorPort = await freePort();
  edge = await startLocalEdge({ nodeIds: [NODE], inspectorPort, backend: "pglite" });
  inspector = await InspectorSession.connect((await workerTarget(inspectorPort)).webSocketDebuggerUrl);
}, 120_000);

afterAll(async () => {
  inspector?.close();
  await edge?.stop();
});

async function liveObjects(file: string) {
  await inspector.heapSnapshot(file);
  const heap = await summarizeHeapSnapshot(file);
  const count = (key: string) => heap.groups.get(key)?.count ?? 0;
  return { objects: count("native workerd / DurableObjectState"), storages: count("native workerd / SqlStorage") };
}

test(`after ${CALLS} calls end and their objects are evicted, no object's storage is left in workerd's heap`, async () => {
  await heartbeat(edge, NODE);
  const tenant = await seedTenant(edge, 1);
  for (let i = 0; i < CALLS; i++) {
    // A signed voice webhook (the call's CallLedger opens), then Twilio's "completed" status callback (it ends).
    const call = await oneCall(edge, tenant);
    expect(call.streamed).toBe(true);
  }
  const dir = tempDataDir();
  const during = await liveObjects(`${dir}/during.heapsnapshot`);
  expect(during.storages).toBeGreaterThanOrEqual(CALLS / 2);

  // Idle: workerd evicts the objects; what a leak keeps is a SqlStorage without its object.
  let after = during;
  const deadline = Date.now() + 90_000;
  for (let i = 0; Date.now() < deadline; i++) {
    await new Promise((r) => setTimeout(r, 10_000));
    after = await liveObjects(`${dir}/after-${i}.heapsnapshot`);
    if (after.objects <= 2) break;
  }
  expect(after.objects).toBeLessThanOrEqual(2);
  expect(after.storages).toBeLessThanOrEqual(after.objects);
}, 240_000);
