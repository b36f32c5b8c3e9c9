// Child processes for the benchmark: each part under test and each emulator runs in its own process,
// optionally pinned to one core with taskset, so the figures say which process spent what. CPU time and
// resident memory are read from /proc, the same way for every process, whatever it runs.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface ServiceOptions {
  name: string;
  /** Script path relative to the repository root, run with `node --import tsx`. */
  script: string;
  env?: Record<string, string>;
  /** Pin to this core; null leaves the process unpinned. */
  cpu: number | null;
  /** The first match in stdout is the service's URL. */
  urlPattern: RegExp;
  timeoutMs?: number;
}

export interface Service {
  name: string;
  url: string;
  pid: number;
  /** The command line, as a person would type it (for the report). */
  command: string;
  /** Lines of stderr kept for diagnosis (last 50). */
  stderrTail(): string[];
  /** Lines of stdout after the ready line (last 50). */
  stdoutTail(): string[];
  /** How the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** User + system CPU time used so far. */
  cpuMs(): number | null;
  rssBytes(): number | null;
  stop(): Promise<void>;
}

const CLOCK_TICKS = (() => {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** Every service started and not yet stopped, so a run that fails half-way leaves no process behind. */
const running = new Set<Service>();

export async function stopAllServices(): Promise<void> {
  await Promise.allSettled([...running].map((s) => s.stop()));
}

export const hasTaskset = spawnSync("taskset", ["-V"], { stdio: "ignore" }).status === 0;

export function procCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may contain spaces; fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) / CLOCK_TICKS) * 1000;
  } catch {
    return null;
  }
}

export function procRssBytes(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Anonymous resident memory (`RssAnon`: malloc'd and V8 heap pages, not mapped files), or null if it has ended. */
export function procRssAnonBytes(pid: number): number | null {
  try {
    const m = /RssAnon:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export function setAffinity(cpus: string, pid: number = process.pid): void {
  if (hasTaskset) spawnSync("taskset", ["-pc", cpus, String(pid)], { stdio: "ignore" });
}

function quote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

export async function startService(opts: ServiceOptions): Promise<Service> {
  const nodeArgs = ["--import", "tsx", opts.script];
  const pinned = opts.cpu !== null && hasTaskset;
  const argv = pinned
    ? ["taskset", "-c", String(opts.cpu), process.execPath, ...nodeArgs]
    : [process.execPath, ...nodeArgs];
  const env = { ...process.env, NODE_NO_WARNINGS: "1", ...opts.env };
  // taskset execs node, so the child's pid is node's pid.
  const child: ChildProcess = spawn(argv[0] as string, argv.slice(1), {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stderr: string[] = [];
  child.stderr?.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) if (line.trim()) stderr.push(line);
    if (stderr.length > 50) stderr.splice(0, stderr.length - 50);
  });
  const exitStatus = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const exited = exitStatus.then(({ code }) => code);
  const stdout: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`${opts.name} did not start within ${opts.timeoutMs ?? 30_000} ms: ${stderr.slice(-5).join(" | ")}`),
      );
    }, opts.timeoutMs ?? 30_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = opts.urlPattern.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        // Keep draining stdout so a chatty child never blocks on a full pipe; its last lines are kept.
        child.stdout?.on("data", (c: Buffer) => {
          for (const line of c.toString().split("\n")) if (line.trim()) stdout.push(line);
          if (stdout.length > 50) stdout.splice(0, stdout.length - 50);
        });
        resolve(m[1] ?? m[0]);
      }
    };
    child.stdout?.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${opts.name} exited (${code}) before it was ready: ${stderr.slice(-5).join(" | ")}`));
    });
  });
  const pid = child.pid ?? -1;
  const envShown = Object.entries(opts.env ?? {})
    .filter(([k]) => !/KEY|SECRET|TOKEN/.test(k))
    .map(([k, v]) => `${k}=${quote(v)}`);
  const command = [...envShown, ...(pinned ? ["taskset", "-c", String(opts.cpu)] : []), "node", ...nodeArgs].join(" ");
  let stopped = false;
  const service: Service = {
    name: opts.name,
    url,
    pid,
    command,
    stderrTail: () => [...stderr],
    stdoutTail: () => [...stdout],
    exited: exitStatus,
    cpuMs: () => procCpuMs(pid),
    rssBytes: () => procRssBytes(pid),
    async stop() {
      if (stopped) return;
      stopped = true;
      running.delete(service);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(service);
  return service;
}
