// A SIGKILL gives `npm start` no chance to stop anything. Its children watch it instead (the media node and the
// emulators poll their parent, wrangler and workerd run under scripts/platform/orphan-guard.mjs) and exit by
// themselves within a few seconds, leaving every port free.
import { expect, test } from "vitest";
import { busyPorts, killTree, startServing, waitUntilGone } from "./support.ts";

test("after a SIGKILL of npm start, every process it started exits by itself and frees its port", async () => {
  const { start, ports, processes } = await startServing();
  const supervisor = start.child.pid ?? 0;
  try {
    expect(processes.length).toBeGreaterThanOrEqual(6);
    process.kill(supervisor, "SIGKILL");
    expect(await waitUntilGone(processes, 8_000)).toEqual([]);
    expect(await busyPorts(ports)).toEqual([]);
  } finally {
    killTree(supervisor);
    for (const pid of processes) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone, as it should be
      }
    }
  }
}, 200_000);
