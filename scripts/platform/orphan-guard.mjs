// node orphan-guard.mjs COMMAND [ARGS…]: runs COMMAND (wrangler dev) so that it never outlives the supervisor
// that started us (`npm start`, whose pid is in AYBIZA_PARENT_PID). wrangler and the workerd processes it spawns
// do not watch their parent: after a SIGKILL of `npm start` they would keep the edge's port forever. We do:
//   - the parent gone (we were re-parented): SIGTERM to our whole process group, SIGKILL to it 3 s later;
//   - SIGINT / SIGTERM / SIGHUP to us: passed on to COMMAND once;
//   - COMMAND ended: whatever it left in our group (a workerd) gets SIGTERM, and we end the way it ended;
//   - a workerd of our group gone and not replaced within 5 s (wrangler replaces it on a reload, but keeps
//     running without one after a crash, answering nothing): the group is killed, so the supervisor sees a
//     crash and restarts the edge. Its exit status is only seen by wrangler, so even a SIGTERM to workerd
//     counts as a crash here.
// Plain JavaScript and no dependencies, so it costs one small process and no build step.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write("usage: node orphan-guard.mjs COMMAND [ARGS…]\n");
  process.exit(2);
}
const parent = Number(process.env.AYBIZA_PARENT_PID) || process.ppid;
// A script runs under this same Node; anything else is executed as it is.
const isScript = /\.[cm]?js$/.test(command);
const child = spawn(isScript ? process.execPath : command, isScript ? [command, ...args] : args, { stdio: "inherit" });

let forwarded = false;
let ending = false;
const groupSignal = (signal) => {
  try {
    // We are our group's leader (the supervisor spawns us detached), so this reaches wrangler and workerd.
    process.kill(-process.pid, signal);
  } catch {
    // nothing left
  }
};
const onSignal = (signal) => {
  if (ending) return;
  if (!forwarded) {
    forwarded = true;
    child.kill(signal);
  }
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, onSignal);

const watch = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(watch);
  process.stderr.write(`orphan-guard: supervisor ${parent} is gone; stopping ${command}\n`);
  forwarded = true;
  groupSignal("SIGTERM");
  setTimeout(() => groupSignal("SIGKILL"), 3_000).unref();
}, 250);

/** Pids of the workerd processes in our process group (Linux /proc; elsewhere none, and nothing is watched). */
function workerdPids() {
  const pids = new Set();
  let entries = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (name === "workerd" && Number(fields[2]) === process.pid && fields[0] !== "Z") pids.add(Number(entry));
    } catch {
      // ended while we looked
    }
  }
  return pids;
}
let peak = 0;
let shortSince;
const runtimeWatch = setInterval(() => {
  if (ending || forwarded) return;
  const count = workerdPids().size;
  peak = Math.max(peak, count);
  if (count >= peak) {
    shortSince = undefined;
    return;
  }
  shortSince ??= Date.now();
  if (Date.now() - shortSince < 5_000) return;
  clearInterval(runtimeWatch);
  process.stderr.write(`orphan-guard: a workerd exited and ${command} did not replace it; ending the edge\n`);
  groupSignal("SIGKILL");
}, 500);

child.once("error", (err) => {
  process.stderr.write(`orphan-guard: could not start ${command}: ${err.message}\n`);
  process.exit(127);
});
child.once("exit", (code, signal) => {
  clearInterval(watch);
  clearInterval(runtimeWatch);
  ending = true;
  // Our own handlers stay installed, so the SIGTERM to the group ends what is left but not us.
  groupSignal("SIGTERM");
  if (signal) {
    for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.removeAllListeners(s);
    process.kill(process.pid, signal);
    // A signal whose default is not to end us (none of ours): report it the shell's way.
    setTimeout(() => process.exit(128), 100).unref();
  } else {
    process.exit(code ?? 1);
  }
});
