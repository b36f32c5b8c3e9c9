// A supervisor that starts this process (`npm start`) names itself in AYBIZA_PARENT_PID. Should it die, even by
// SIGKILL, which gives it no chance to stop us, we are re-parented; we notice within `pollMs` and stop as on
// SIGTERM (the process's own handler drains), and exit regardless after `graceMs`. Without the variable (a node
// run by systemd, Docker or by hand) nothing is watched. The emulators carry a copy (emulators/parent-watch.ts):
// the layout keeps them from importing the media node.
export function exitWithParent(
  env: Readonly<Record<string, string | undefined>> = process.env,
  { pollMs = 250, graceMs = 5_000 }: { pollMs?: number; graceMs?: number } = {},
): void {
  const expected = Number(env.AYBIZA_PARENT_PID);
  if (!Number.isInteger(expected) || expected <= 1) return;
  const timer = setInterval(() => {
    if (process.ppid === expected) return;
    clearInterval(timer);
    process.stderr.write(`supervisor ${expected} is gone; stopping\n`);
    setTimeout(() => process.exit(1), graceMs).unref();
    process.kill(process.pid, "SIGTERM");
  }, pollMs);
  timer.unref();
}
