// Child processes of the local platform: each runs in its own process group with its output in a log file, is
// ready when a line or an HTTP answer says so, and is stopped with its whole group (wrangler's workerd too), so
// stopping the platform leaves nothing behind.
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

export interface Child {
  name: string;
  pid: number;
  logFile: string;
  /** Resolves with the exit code (or 1 after a signal) once the process is gone. */
  exited: Promise<number>;
  /** Resolves when a line of output matches `pattern`; rejects if the process exits first or after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  stop(): Promise<void>;
}

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
export function spawnTs(
  name: string,
  entry: string,
  opts: { env: Record<string, string | undefined>; logDir: string },
): Child {
  return spawnChild(name, process.execPath, ["--import", "tsx", path.join(REPO_ROOT, entry)], opts);
}

export function spawnChild(
  name: string,
  command: string,
  args: string[],
  opts: { env: Record<string, string | undefined>; logDir: string },
): Child {
  installExitHook();
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, `${name.replace(/[^a-z0-9-]+/gi, "-")}.log`);
  const log = createWriteStream(logFile, { flags: "w" });
  const child: ChildProcess = spawn(command, args, {
    cwd: REPO_ROOT,
    env: opts.env as NodeJS.ProcessEnv,
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

  const exited = new Promise<number>((resolve) => {
    child.on("exit", (code, signal) => {
      liveGroups.delete(pid);
      // The group may still hold grandchildren (workerd) if the leader died first.
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // none left
      }
      log.end();
      resolve(code ?? (signal ? 1 : 0));
    });
  });

  return {
    name,
    pid,
    logFile,
    exited,
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
    async stop() {
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
      }, 5_000);
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
