// `npm start`: the whole platform on one machine, offline and without keys (scripts/platform/platform.ts), the
// demo tenant seeded through the API, and one demo call placed through the real path — a signed Twilio webhook
// to the edge, its TwiML, the simulated caller streaming to the media node — printed turn by turn with each
// turn's latency waterfall. Then it keeps serving until Ctrl-C, which stops everything it started.
//
// Life cycle: SIGINT, SIGTERM or SIGHUP to this process, to npm above it (we watch our ancestors), or to any
// child (it exits on request) stops everything within 5 s; a child that crashes is restarted with backoff and
// the rest keeps serving; if this process dies by SIGKILL, every child notices its parent is gone and exits.
//
//   npm start                 everything, then the demo call
//   npm start -- --no-demo    everything, no demo call
//
// Ports (each overridable): edge 8787 (EDGE_PORT), media node 8080 (MEDIA_PORT), Deepgram emulator 8091
// (DEEPGRAM_EMULATOR_PORT), Bedrock emulator 8092 (BEDROCK_EMULATOR_PORT), demo tools 8093 (DEMO_TOOLS_PORT),
// database proxy 55433 (DB_PROXY_PORT), PGlite 55432 (PGLITE_PORT). AYBIZA_DATA_DIR moves `.data`.
// Keys in the environment or .dev.vars switch providers to the real services: see docs/configuration.md.
import { parseArgs } from "node:util";
import { placeDemoCall } from "./platform/demo-call.ts";
import { type Platform, startPlatform } from "./platform/platform.ts";
import { formatLive, styleFor } from "./platform/printer.ts";
import { PlatformError, rel, watchAncestors } from "./platform/processes.ts";
import { client } from "./platform/seed.ts";

const out = (line = "") => process.stdout.write(`${line}\n`);
// npm and its shell may be gone when we stop (that is why we stop): a closed pipe must not crash the stop.
process.stdout.on("error", () => {});
process.stderr.on("error", () => {});
/** SIGINT, SIGTERM or SIGHUP to stop everything: the issue's promise is 5 s. */
const STOP_DEADLINE_MS = 4_800;
const style = styleFor(process.stdout);

async function main(): Promise<number> {
  let demo = true;
  try {
    const { values } = parseArgs({ options: { "no-demo": { type: "boolean" } }, strict: true });
    demo = !values["no-demo"];
  } catch (err) {
    process.stderr.write(`npm start: ${(err as Error).message} (the only option is --no-demo)\n`);
    return 2;
  }

  let platform: Platform | undefined;
  let stopping = false;
  const shutdown = (code: number) => {
    if (stopping) return;
    stopping = true;
    out("\nstopping…");
    // The platform stops in under 5 s on its own (the media node drains 2 s); should a child hang, exiting runs
    // the exit hook of processes.ts, which SIGKILLs every child's process group.
    setTimeout(() => {
      process.stderr.write("npm start: stopping took too long; killed what was left\n");
      process.exit(code || 1);
    }, STOP_DEADLINE_MS).unref();
    void (platform?.stop() ?? Promise.resolve()).finally(() => process.exit(code));
  };
  // While starting, a signal aborts the start; startPlatform then stops what it had started.
  const starting = new AbortController();
  const onSignal = () => {
    if (!platform) starting.abort();
    else shutdown(0);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  // npm passes a SIGTERM to its shell, not to us, and nobody passes a SIGKILL on: watch them instead.
  watchAncestors((pid) => {
    process.stderr.write(`npm start: process ${pid} above us is gone; stopping\n`);
    onSignal();
  });

  const startedAt = performance.now();
  try {
    platform = await startPlatform({
      ...(process.env.AYBIZA_DATA_DIR ? { dataDir: process.env.AYBIZA_DATA_DIR } : {}),
      progress: (line) => out(style.dim(line)),
      log: (line) => process.stderr.write(`npm start: ${line}\n`),
      signal: starting.signal,
    });
  } catch (err) {
    if (starting.signal.aborted) {
      out("\nstopped.");
      return 130;
    }
    process.stderr.write(`npm start: ${oneLine(err)}\n`);
    return 1;
  }
  const p = platform;
  void p.childExited.then(({ name, code, logFile, reason }) => {
    if (reason === "stopped") {
      // Someone stopped one of our processes (a SIGTERM to it, or to its process group): stop them all.
      out(style.dim(`${name} was stopped (code ${code}); stopping the rest`));
      shutdown(0);
    } else {
      process.stderr.write(`npm start: ${name} keeps crashing; see ${rel(logFile)}. Stopping the rest.\n`);
      shutdown(1);
    }
  });

  for (const w of p.warnings) out(`warning: ${w}`);
  out(`\n${style.bold("AYBIZA is running")} (${((performance.now() - startedAt) / 1000).toFixed(1)} s)`);
  for (const line of p.lines) out(`  ${line}`);
  const t = p.tenant;
  out(`\n${style.bold("Demo tenant")}${t.reused ? ` (reused from ${rel(`${p.dataDir}/demo.json`)})` : " (new)"}`);
  out(`  account    ${t.accountId}   (business plan)`);
  out(`  API key    ${t.apiKey}`);
  out(`  console    ${p.edgeUrl}/console   sign in as ${t.email} / ${t.password}`);
  out(`  number     ${t.number} → agent "${t.agentName}" v${t.publishedVersion}, published`);

  if (demo) {
    out(
      `\n${style.bold("Demo call")} ${p.demoCaller} → ${t.number}: signed Twilio webhook → edge → TwiML → media node`,
    );
    try {
      const call = await placeDemoCall({
        edgeUrl: p.edgeUrl,
        apiKey: t.apiKey,
        authToken: p.twilioAuthToken,
        from: p.demoCaller,
        to: t.number,
        deepgramEmulatorUrl: p.deepgramEmulatorUrl,
        onLive: (message) => {
          for (const line of formatLive(message, style)) out(line);
        },
      });
      out(style.dim(`  · status callback "completed" → HTTP ${call.statusCallback}`));
      const saved = await waitForTurns(p.edgeUrl, t.apiKey, call.callId);
      out(
        `  saved in Postgres: GET /v1/calls/${call.callId} → ${saved.status}, ${saved.turns} turn rows (caller and agent)`,
      );
      for (const line of await afterTheCall(p.edgeUrl, t.apiKey, call.callId)) out(`  ${line}`);
      out(style.dim(`  (${((performance.now() - startedAt) / 1000).toFixed(1)} s since npm start)`));
    } catch (err) {
      process.stderr.write(
        `npm start: the demo call did not complete: ${oneLine(err)} (logs in ${rel(p.dataDir)}/logs)\n`,
      );
    }
  }

  out(`\n${style.bold("Try")}`);
  out(`  npm run call                          another call through the edge (-- --concurrency 50 for load)`);
  out(`  curl -H "authorization: Bearer ${t.apiKey}" ${p.edgeUrl}/v1/calls`);
  out(`\nServing until Ctrl-C.`);
  // Keep running: the edge, the media node and the live feeds serve until a signal arrives.
  await new Promise(() => {});
  return 0;
}

/** The call and its turns as the tenant API returns them, once the outbox has written them to Postgres. */
async function waitForTurns(edgeUrl: string, apiKey: string, callId: string) {
  const api = client(edgeUrl);
  const deadline = Date.now() + 15_000;
  let last = { status: "unknown", turns: 0 };
  while (Date.now() < deadline) {
    const answer = await api.call("GET", `/v1/calls/${callId}`, apiKey);
    if (answer.status === 200) {
      const body = answer.body as { status: string; turns: { latency: unknown }[] };
      last = { status: body.status, turns: body.turns.length };
      if (body.status !== "in_progress" && body.status !== "ringing" && body.turns.length > 0) return last;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return last;
}

/** The call's post-call analysis (from the queue consumer, a moment after the end) and its priced cost. */
async function afterTheCall(edgeUrl: string, apiKey: string, callId: string): Promise<string[]> {
  type Body = {
    analysis: {
      status: string;
      summary: string | null;
      success: { pass: boolean } | null;
      error: string | null;
    } | null;
    cost: { total: number; breakdown: { category: string; costUsd: number }[] };
  };
  const api = client(edgeUrl);
  const deadline = Date.now() + 15_000;
  let body: Body | undefined;
  while (Date.now() < deadline) {
    const answer = await api.call("GET", `/v1/calls/${callId}`, apiKey);
    if (answer.status === 200) body = answer.body as Body;
    if (body?.analysis) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (!body) return [];
  const byCategory = new Map<string, number>();
  for (const l of body.cost.breakdown) byCategory.set(l.category, (byCategory.get(l.category) ?? 0) + l.costUsd);
  const top = [...byCategory.entries()].sort((a, b) => b[1] - a[1])[0];
  const a = body.analysis;
  return [
    a?.status === "completed"
      ? `analysis: ${a.success ? (a.success.pass ? "success" : "not a success") : "no rubric"}; ${a.summary ?? ""}`
      : `analysis: ${a ? `failed (${a.error ?? "unknown"})` : "not there yet"}`,
    `cost on list prices: $${body.cost.total.toFixed(4)}${top ? ` (most of it ${top[0]})` : ""}, see docs/cost.md`,
  ];
}

function oneLine(err: unknown): string {
  if (err instanceof PlatformError) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (e?.code === "EADDRINUSE")
    return `a port is already in use (${(e as { port?: number }).port ?? "?"}); set its variable to a free port`;
  return (e?.message ?? String(err)).split("\n")[0] ?? String(err);
}

// Explicit: a start aborted half-way may leave a handle (a database still opening) that would keep us alive.
process.exit(await main());
