// `npm start` that cannot start says so in one line that names the cause and what to do, without a stack trace,
// and leaves nothing running.
import net from "node:net";
import { afterEach, expect, test } from "vitest";
import { descendants, freePorts, isAlive, offlineEnv, portEnv, spawnStart, tempDataDir } from "./support.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function assertOneLine(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l.trim() !== "");
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  return lines[0] ?? "";
}

test("a port already in use is one line naming the port, its part and the variable to change", async () => {
  const ports = await freePorts();
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(ports.edge, "127.0.0.1", resolve));
  cleanups.push(() => squatter.close());

  const start = spawnStart([], offlineEnv({ ...portEnv(ports), AYBIZA_DATA_DIR: tempDataDir() }));
  expect(await start.exited).toBe(1);
  const line = assertOneLine(start.stderr());
  expect(line).toMatch(new RegExp(`port ${ports.edge} \\(edge, EDGE_PORT\\) already in use`));
  expect(line).toMatch(/set the variable to a free port/);
}, 30_000);

test("a part that fails to start is one line pointing at its log, and the parts already started are stopped", async () => {
  const ports = await freePorts();
  // An invalid setting stops the media node at once with its own one-line configuration error.
  const start = spawnStart(
    ["--no-demo"],
    offlineEnv({ ...portEnv(ports), AYBIZA_DATA_DIR: tempDataDir(), MEDIA_REGION: "Mars!" }),
  );
  const seen = new Set<number>();
  const watch = setInterval(() => {
    for (const pid of descendants(start.child.pid ?? 0)) seen.add(pid);
  }, 100);
  cleanups.push(() => clearInterval(watch));
  expect(await start.exited).toBe(1);
  const line = assertOneLine(start.stderr());
  expect(line).toMatch(/media-node exited with code 2/);
  expect(line).toMatch(/MEDIA_REGION must be a region name/);
  expect(line).toMatch(/media-node\.log/);
  expect(seen.size).toBeGreaterThan(0);
  for (const pid of seen) expect(isAlive(pid), `process ${pid}`).toBe(false);
}, 60_000);
