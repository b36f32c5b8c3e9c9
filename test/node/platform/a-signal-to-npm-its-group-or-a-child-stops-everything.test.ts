// What systemd, Docker, a closed terminal or an operator send reaches only one process, rarely ours: a SIGTERM
// to npm alone, a SIGHUP to the whole process group, a SIGTERM to one child. Each stops every process `npm
// start` started within 5 s, and frees every port, so the next start does not fail with "port in use".
import { expect, test } from "vitest";
import { busyPorts, descendantMatching, killTree, startServing, waitUntilGone } from "./support.ts";

const STOP_WITHIN_MS = 5_000;

test("SIGTERM to npm alone (not to its group) stops everything npm start started", async () => {
  const { start, ports, processes } = await startServing({ via: "npm", detached: true });
  const npm = start.child.pid ?? 0;
  try {
    // npm → sh → tsx → node scripts/start.ts → the edge, the media node, the emulators …
    expect(processes.length).toBeGreaterThanOrEqual(8);
    process.kill(npm, "SIGTERM");
    expect(await waitUntilGone(processes, STOP_WITHIN_MS)).toEqual([]);
    expect(await busyPorts(ports)).toEqual([]);
  } finally {
    killTree(npm);
  }
}, 200_000);

test("SIGHUP to npm start's process group (a closed terminal) stops everything", async () => {
  const { start, ports, processes } = await startServing({ via: "npm", detached: true });
  const group = start.child.pid ?? 0;
  try {
    process.kill(-group, "SIGHUP");
    expect(await waitUntilGone(processes, STOP_WITHIN_MS)).toEqual([]);
    expect(await busyPorts(ports)).toEqual([]);
  } finally {
    killTree(group);
  }
}, 200_000);

test("SIGTERM to one child (the media node) stops the whole platform, not just that child", async () => {
  const { start, ports, processes } = await startServing();
  const pid = start.child.pid ?? 0;
  try {
    const media = descendantMatching(pid, /media-nodes\/src\/main\.ts/);
    expect(media).toBeDefined();
    process.kill(media ?? 0, "SIGTERM");
    expect(await waitUntilGone(processes, STOP_WITHIN_MS)).toEqual([]);
    expect(await start.exited).toBe(0);
    expect(start.stdout()).toMatch(/media-node was stopped \(code 0\); stopping the rest/);
    expect(await busyPorts(ports)).toEqual([]);
  } finally {
    killTree(pid);
  }
}, 200_000);
