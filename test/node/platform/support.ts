// Shared by the platform suites: free ports for every part (so a running `npm start` on the default ports is
// never disturbed), an environment without provider keys (the emulators must stand in), and `npm start` as a
// child process with its output collected.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll } from "vitest";
import { type PlatformPorts, PORT_VARS } from "../../../scripts/platform/platform.ts";
import { portIsFree, REPO_ROOT } from "../../../scripts/platform/processes.ts";
import { PROVIDER_VARS } from "../../../scripts/platform/providers.ts";

/**
 * Free ports below the kernel's ephemeral range. These suites check that every port is free again after a stop; a
 * port from the ephemeral range (what `listen(0)` hands out) can be taken meanwhile as the source port of any other
 * process's outbound connection (the Worker suites beside these make thousands), which reads as a port left busy.
 */
export async function freePorts(): Promise<PlatformPorts> {
  const ephemeralFrom = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
  const below = Number.isFinite(ephemeralFrom) && ephemeralFrom > 21_000 ? ephemeralFrom : 32_768;
  const ports = {} as PlatformPorts;
  const taken = new Set<number>();
  for (const key of Object.keys(PORT_VARS) as (keyof PlatformPorts)[]) {
    let port = 0;
    while (!port || taken.has(port) || !(await portIsFree(port)))
      port = 20_000 + Math.floor(Math.random() * (below - 20_000));
    taken.add(port);
    ports[key] = port;
  }
  return ports;
}

export function portEnv(ports: PlatformPorts): Record<string, string> {
  return Object.fromEntries(
    (Object.keys(PORT_VARS) as (keyof PlatformPorts)[]).map((key) => [PORT_VARS[key].env, String(ports[key])]),
  );
}

/** This process's environment without provider keys or an external database: the offline defaults. */
export function offlineEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  for (const name of [...PROVIDER_VARS, "DATABASE_URL", "TWILIO_AUTH_TOKEN", "MEDIA_REGION", "AYBIZA_DATA_DIR"]) {
    delete env[name];
  }
  return { ...env, ...extra };
}

const tempDirs: string[] = [];
// Registered by each test file that imports this module (files are isolated), after its own hooks have stopped
// whatever wrote there.
afterAll(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A data directory of its own (secrets, demo tenant, logs), removed when the test process exits. */
export function tempDataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "aybiza-platform-test-"));
  tempDirs.push(dir);
  return dir;
}

export interface StartProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<void>;
}

export interface SpawnStartOptions {
  /** "node" (default): scripts/start.ts under Node directly; "npm": the real `npm start --`, with its sh and tsx. */
  via?: "node" | "npm";
  /** In a process group of its own, as a shell or a service manager starts it (so a test can signal the group). */
  detached?: boolean;
}

/** `npm start` (scripts/start.ts) as a child process, exactly as the command runs it. */
export function spawnStart(args: string[], env: Record<string, string>, opts: SpawnStartOptions = {}): StartProcess {
  const [command, argv] =
    opts.via === "npm"
      ? ["npm", ["start", "--silent", "--", ...args]]
      : [process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "scripts/start.ts"), ...args]];
  const child = spawn(command, argv, {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: opts.detached ?? false,
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitForOutput(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let gone = false;
      void exited.then(() => {
        gone = true;
      });
      while (!pattern.test(out)) {
        if (gone || Date.now() > deadline) {
          throw new Error(`npm start did not print ${pattern} (exited: ${gone})\nstdout:\n${out}\nstderr:\n${err}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** Every process below `pid` (children, grandchildren …), read from /proc. */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the parenthesised command: state, ppid, …
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = parents.get(ppid) ?? [];
      list.push(Number(entry));
      parents.set(ppid, list);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of parents.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** The first process below `pid` whose command line matches `pattern` (e.g. /media-nodes\/src\/main/). */
export function descendantMatching(pid: number, pattern: RegExp): number | undefined {
  return descendants(pid).find((p) => {
    try {
      return pattern.test(readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " "));
    } catch {
      return false;
    }
  });
}

/** Waits until none of `pids` is alive, up to `timeoutMs`; returns those still alive (empty when all ended). */
export async function waitUntilGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return pids.filter(isAlive);
}

/** The ports of `ports` something still listens on. */
export async function busyPorts(ports: PlatformPorts): Promise<number[]> {
  const busy: number[] = [];
  for (const port of Object.values(ports)) if (!(await portIsFree(port))) busy.push(port);
  return busy;
}

/** Starts `npm start -- --no-demo` on free ports and waits until it serves; its processes are killed on failure. */
export async function startServing(opts: SpawnStartOptions & { env?: Record<string, string> } = {}) {
  const ports = await freePorts();
  const dataDir = tempDataDir();
  const start = spawnStart(
    ["--no-demo"],
    offlineEnv({ ...portEnv(ports), AYBIZA_DATA_DIR: dataDir, ...opts.env }),
    opts,
  );
  try {
    await start.waitForOutput(/Serving until Ctrl-C/, 150_000);
  } catch (err) {
    killTree(start.child.pid ?? 0);
    throw err;
  }
  const pid = start.child.pid ?? 0;
  return { start, ports, dataDir, processes: [pid, ...descendants(pid)] };
}

/** SIGKILL to `pid` and everything below it (cleanup after a failed test). */
export function killTree(pid: number): void {
  for (const p of [pid, ...descendants(pid)]) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // gone
    }
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still answers kill(0); it is gone for our purposes.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
