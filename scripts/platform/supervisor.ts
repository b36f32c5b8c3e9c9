// Keeps one child process of the local platform running: a crash (an exit the child was not asked for: a
// non-zero code, SIGKILL, SIGSEGV …) is logged and the child started again after a backoff, then waited for
// until it is ready, while the rest of the platform keeps serving. An exit the child was asked for (code 0, or
// SIGINT / SIGTERM / SIGHUP sent to it by anyone) means someone wants the platform stopped: it is reported, not
// restarted. A child that keeps crashing straight after starting is given up on after a few tries.
import { type Child, type ExitStatus, rel, stoppedOnRequest } from "./processes.ts";

export interface SupervisorOptions {
  name: string;
  /** Starts the process; `attempt` is 0 the first time (a restart appends to the log rather than replacing it). */
  spawn(attempt: number): Child;
  /** Resolves once the process serves (a log line, an HTTP answer); rejects if it exits first. */
  ready(child: Child): Promise<void>;
  /** Restart after a crash. Default true. */
  restart?: boolean;
  /** One line per crash and per recovery, for the person running the platform. */
  log?: (line: string) => void;
  /** Backoff before the n-th restart in a row: 500 ms doubling to `maxBackoffMs`. */
  maxBackoffMs?: number;
  /** Crashes in a row, each within `quickMs` of its start, after which the child is given up on. Default 5. */
  maxQuickCrashes?: number;
  /** A run shorter than this counts as a quick crash, and a longer one resets the backoff. Default 30 s. */
  quickMs?: number;
}

/** Why a supervised child ended for good. */
export interface ChildEnded {
  name: string;
  code: number;
  logFile: string;
  /** "stopped": it was asked to stop (by a signal or exit 0); "gave-up": it kept crashing. */
  reason: "stopped" | "gave-up";
}

export interface Supervised {
  name: string;
  /** The process running now (after a restart, a new one). */
  current(): Child;
  /** Restarts so far. */
  restarts(): number;
  /** Settles when the child ends for good without `stop()` having been called. */
  ended: Promise<ChildEnded>;
  /** The first start: resolves once ready, rejects if the process exits or times out first (no retry then). */
  ready: Promise<void>;
  /** Resolves after the current process has been (re)started and is ready. */
  whenReady(): Promise<void>;
  stop(graceMs?: number): Promise<void>;
}

/** Starts the child; crashes are watched for once it has been ready the first time. */
export function supervise(opts: SupervisorOptions): Supervised {
  const log = opts.log ?? (() => {});
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  const quickMs = opts.quickMs ?? 30_000;
  const maxQuick = opts.maxQuickCrashes ?? 5;
  let attempt = 0;
  let restarts = 0;
  let quickCrashes = 0;
  let stopping = false;
  let child = opts.spawn(attempt);
  let ready: Promise<void> = opts.ready(child);
  let startedAt = Date.now();
  let pendingRestart: NodeJS.Timeout | undefined;
  let endedResolve: (e: ChildEnded) => void = () => {};
  const ended = new Promise<ChildEnded>((resolve) => {
    endedResolve = resolve;
  });

  const describe = (s: ExitStatus) => (s.signal ? `signal ${s.signal}` : `code ${s.code}`);

  const watch = (c: Child) => {
    void c.status.then((status) => {
      if (stopping) return;
      const code = status.code ?? 1;
      if (stoppedOnRequest(status) || opts.restart === false) {
        endedResolve({ name: opts.name, code, logFile: c.logFile, reason: "stopped" });
        return;
      }
      const ranMs = Date.now() - startedAt;
      quickCrashes = ranMs < quickMs ? quickCrashes + 1 : 1;
      if (quickCrashes > maxQuick) {
        log(
          `${opts.name} crashed ${quickCrashes} times in a row (${describe(status)}); giving up — see ${rel(c.logFile)}`,
        );
        endedResolve({ name: opts.name, code, logFile: c.logFile, reason: "gave-up" });
        return;
      }
      const delay = Math.min(maxBackoff, 500 * 2 ** (quickCrashes - 1));
      log(
        `${opts.name} crashed (${describe(status)}) after ${(ranMs / 1000).toFixed(1)} s; restarting in ${(delay / 1000).toFixed(1)} s — see ${rel(c.logFile)}`,
      );
      pendingRestart = setTimeout(() => {
        pendingRestart = undefined;
        if (stopping) return;
        attempt++;
        restarts++;
        child = opts.spawn(attempt);
        startedAt = Date.now();
        const started = Date.now();
        ready = opts.ready(child).then(
          () => log(`${opts.name} is back (pid ${child.pid}, ready in ${Date.now() - started} ms)`),
          // It died again before it was ready: its exit is handled like any other crash.
          () => {},
        );
        watch(child);
      }, delay);
    });
  };

  const first = ready.then(() => {
    if (!stopping) watch(child);
  });
  // Awaited by the caller; until then a failure must not count as an unhandled rejection.
  first.catch(() => {});
  return {
    name: opts.name,
    ready: first,
    current: () => child,
    restarts: () => restarts,
    ended,
    whenReady: () => ready,
    async stop(graceMs) {
      stopping = true;
      if (pendingRestart) clearTimeout(pendingRestart);
      await child.stop(graceMs);
    },
  };
}
