// Child processes of the local platform: each runs in its own process group with its output in a log file, is
// ready when a line or an HTTP answer says so, and is stopped with its whole group (wrangler's workerd too), so
// stopping the platform leaves nothing behind. Each child is told our pid (AYBIZA_PARENT_PID) and ends itself
// when we are gone, even after a SIGKILL that leaves us no time to stop it (see supervisor.ts for restarts).
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const LOOPBACK = "127.0.0.1";

/** A failure meant for a person: one line, no stack trace. */
export class PlatformError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlatformError";
  }
}

/** How a process ended: its exit code, or the signal that ended it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  name: string;
  pid: number;
  logFile: string;
  /** Resolves with the exit code (or 1 after a signal) once the process is gone. */
  exited: Promise<number>;
  /** Resolves with the exit code and signal once the process is gone. */
  status: Promise<ExitStatus>;
  /** Resolves when a line of output matches `pattern`; rejects if the process exits first or after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** SIGTERM to its group, SIGKILL after `graceMs` (default 5 s). */
  stop(graceMs?: number): Promise<void>;
}

/** The variable naming the supervisor's pid; a child whose parent is no longer that pid stops itself. */
export const PARENT_PID_VAR = "AYBIZA_PARENT_PID";

const liveGroups = new Set<number>();
let exitHookInstalled = false;

/** If this process dies without stopping its children (an uncaught error), take their groups down with it. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pid of liveGroups) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  });
}

/** Runs a TypeScript entry point of this repository under Node with tsx (one process, so signals reach it). */
export function spawnTs(name: string, entry: string, opts: SpawnOptions): Child {
  return spawnChild(name, process.execPath, ["--import", "tsx", path.join(REPO_ROOT, entry)], opts);
}

export interface SpawnOptions {
  env: Record<string, string | undefined>;
  logDir: string;
  /** Add to the log instead of starting it afresh (a restart keeps what the crashed process wrote). */
  appendLog?: boolean;
}

export function spawnChild(name: string, command: string, args: string[], opts: SpawnOptions): Child {
  installExitHook();
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, `${name.replace(/[^a-z0-9-]+/gi, "-")}.log`);
  const log = createWriteStream(logFile, { flags: opts.appendLog ? "a" : "w" });
  const child: ChildProcess = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...opts.env, [PARENT_PID_VAR]: String(process.pid) } as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: Ctrl-C in the terminal reaches only us, and we stop the children in order.
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) throw new PlatformError(`could not start ${name} (${command})`);
  liveGroups.add(pid);

  const watchers = new Set<(line: string) => void>();
  let partial = "";
  const onData = (chunk: Buffer) => {
    log.write(chunk);
    const text = partial + chunk.toString("utf8");
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) for (const w of watchers) w(line);
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);

  const status = new Promise<ExitStatus>((resolve) => {
    child.on("exit", (code, signal) => {
      liveGroups.delete(pid);
      // The group may still hold grandchildren (workerd) if the leader died first.
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // none left
      }
      log.end();
      resolve({ code, signal });
    });
  });
  const exited = status.then(({ code, signal }) => code ?? (signal ? 1 : 0));

  return {
    name,
    pid,
    logFile,
    exited,
    status,
    waitForLine(pattern, timeoutMs) {
      return new Promise<string>((resolve, reject) => {
        let done = false;
        const finish = (fn: () => void) => {
          if (done) return;
          done = true;
          watchers.delete(watch);
          clearTimeout(timer);
          fn();
        };
        const watch = (line: string) => {
          if (pattern.test(line)) finish(() => resolve(line));
        };
        watchers.add(watch);
        const timer = setTimeout(
          () =>
            finish(() =>
              reject(new PlatformError(`${name} was not ready within ${timeoutMs / 1000} s; see ${rel(logFile)}`)),
            ),
          timeoutMs,
        );
        void exited.then((code) =>
          finish(() =>
            reject(new PlatformError(`${name} exited with code ${code}${lastLine(logFile)}; see ${rel(logFile)}`)),
          ),
        );
      });
    },
    async stop(graceMs = 5_000) {
      if (!liveGroups.has(pid)) return;
      try {
        process.kill(-pid, "SIGTERM");
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          // gone meanwhile
        }
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** " (last line: …)" from a log, for one-line failure messages. */
export function lastLine(file: string): string {
  try {
    const lines = readFileSync(file, "utf8")
      .split("\n")
      .map((l) => stripAnsi(l).trim())
      .filter(Boolean);
    const last = lines.at(-1);
    return last ? ` (last line: ${last.length > 160 ? `${last.slice(0, 157)}…` : last})` : "";
  } catch {
    return "";
  }
}

export function rel(file: string): string {
  const r = path.relative(process.cwd(), file);
  return r.startsWith("..") ? file : r;
}

export function portIsFree(port: number, host = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

/** A port nothing listens on right now (for tests; the platform's defaults are fixed). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, LOOPBACK, () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 2xx; rejects when `exited` settles first or after `timeoutMs`. */
export async function waitForHttp(url: string, child: Child, timeoutMs: number): Promise<void> {
  let gone: number | undefined;
  void child.exited.then((code) => {
    gone = code;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone !== undefined) {
      throw new PlatformError(
        `${child.name} exited with code ${gone}${lastLine(child.logFile)}; see ${rel(child.logFile)}`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new PlatformError(
    `${child.name} did not answer at ${url} within ${timeoutMs / 1000} s; see ${rel(child.logFile)}`,
  );
}

const ESC = String.fromCharCode(27);
/** wrangler colours its output; a one-line message should not carry the escape codes. */
function stripAnsi(line: string): string {
  return line
    .split(ESC)
    .map((part, i) => (i === 0 ? part : part.replace(/^\[[0-9;]*m/, "")))
    .join("");
}

interface ProcStat {
  ppid: number;
  pgid: number;
  startTime: string;
}

function procStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name: state ppid pgrp session … starttime is the 20th of them.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z") return undefined;
    return { ppid: Number(fields[1]), pgid: Number(fields[2]), startTime: fields[19] ?? "" };
  } catch {
    return undefined;
  }
}

/**
 * Calls `onGone` once our parent, or any ancestor in our own process group, is gone. `npm start` runs us as
 * npm → sh → tsx → node: a SIGTERM or SIGHUP to npm (what systemd, Docker and a closed terminal send) ends npm
 * or sh without reaching us, and a SIGKILL never reaches anyone. Whichever of them dies, we notice within
 * `pollMs` and stop what we started. Without /proc (not Linux) only the parent is watched.
 */
export function watchAncestors(onGone: (pid: number) => void, pollMs = 250): () => void {
  const self = procStat(process.pid);
  const watched: { pid: number; startTime: string }[] = [];
  if (self) {
    let pid = self.ppid;
    for (let depth = 0; pid > 1 && depth < 16; depth++) {
      const stat = procStat(pid);
      if (!stat) break;
      // The direct parent always; above it, only the processes of our group (the command the user ran).
      if (depth > 0 && stat.pgid !== self.pgid) break;
      watched.push({ pid, startTime: stat.startTime });
      pid = stat.ppid;
    }
  }
  const parent = process.ppid;
  const timer = setInterval(() => {
    const gone = self
      ? watched.find((w) => procStat(w.pid)?.startTime !== w.startTime)?.pid
      : process.ppid !== parent
        ? parent
        : undefined;
    if (gone === undefined) return;
    clearInterval(timer);
    onGone(gone);
  }, pollMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Whether an exit means "asked to stop" (code 0, or SIGINT/SIGTERM/SIGHUP) rather than a crash. */
export function stoppedOnRequest(status: ExitStatus): boolean {
  if (status.signal) return ["SIGINT", "SIGTERM", "SIGHUP"].includes(status.signal);
  // 128 + signal: how a shell or a wrapper reports a process ended by that signal.
  return status.code === 0 || status.code === 129 || status.code === 130 || status.code === 143;
}
