// Ctrl-C (SIGINT) to `npm start` stops everything it started: the edge (wrangler and its workerd), the media
// node, the emulators, and the database and proxy in its own process; every port is free again.
import { expect, test } from "vitest";
import { portIsFree } from "../../../scripts/platform/processes.ts";
import { descendants, freePorts, isAlive, offlineEnv, portEnv, spawnStart, tempDataDir } from "./support.ts";

test("SIGINT to a running npm start leaves no child process and no port behind", async () => {
  const ports = await freePorts();
  const start = spawnStart(["--no-demo"], offlineEnv({ ...portEnv(ports), AYBIZA_DATA_DIR: tempDataDir() }));
  try {
    await start.waitForOutput(/Serving until Ctrl-C/, 120_000);
  } catch (err) {
    start.child.kill("SIGKILL");
    throw err;
  }
  // The banner names the console and a demo user who can sign in at once.
  const banner = /console\s+(http:\/\/\S+)\/console\s+sign in as (\S+) \/ (\S+)/.exec(start.stdout());
  expect(banner, start.stdout()).not.toBeNull();
  const [, edge, email, password] = banner ?? [];
  const signIn = await fetch(`${edge}/v1/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  expect(signIn.status).toBe(201);
  expect(signIn.headers.get("set-cookie")).toMatch(/aybiza_session=cs_/);
  expect((await fetch(`${edge}/console/sign-in`)).status).toBe(200);

  const children = descendants(start.child.pid ?? 0);
  // wrangler + workerd, the media node, two emulators at least.
  expect(children.length).toBeGreaterThanOrEqual(5);
  for (const port of Object.values(ports))
    expect(await portIsFree(port), `port ${port} in use while running`).toBe(false);

  start.child.kill("SIGINT");
  expect(await start.exited).toBe(0);
  expect(start.stderr()).toBe("");
  const deadline = Date.now() + 5_000;
  while (children.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(children.filter(isAlive)).toEqual([]);
  for (const port of Object.values(ports)) expect(await portIsFree(port), `port ${port} still in use`).toBe(true);
}, 150_000);
