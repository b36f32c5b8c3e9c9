// npm run soak -- --minutes N [--concurrency C]: memory over time. Starts the platform as `npm start` does (wrangler
// dev's workerd for the edge, the media node and the emulators as child processes, PGlite and the demo tools
// here), places demo calls through the real path without pause (signed Twilio webhook → edge → TwiML → the
// simulated caller on the media node, with the call's live feed open, then the status callback), C at a time for
// N minutes, then leaves it idle, and samples every process's resident memory, the media node's V8 heap (its
// /metrics), each process's anonymous memory, and workerd's V8 heap (its inspector) every few seconds; with
// --edge miniflare also the heaps of Miniflare's own isolates in workerd. workerd's heap is snapshotted at the end
// (or also before the load and once warm, compared by kind of object).
//
// Writes bench/results/soak-<edge>-<time>.json (series, summary, heap comparison), .csv, .svg and -heap.svg
// (lib/soak-series.ts). Too long for CI; see docs/reliability.md, "Memory over time".
//
//   npm run soak -- --minutes 60 --concurrency 20 [--idle-minutes 3] [--sample-seconds 5] [--snapshots end|all|none]
//
// A heap snapshot makes workerd (and, through wrangler's inspector proxy, the proxy's workerd) allocate tens of MB
// that its allocator keeps: RSS steps up after each one. So by default there is one, at the very end, after the
// last sample; `--snapshots all` adds one before the load, one once warm and one after it, for comparisons.
//                   [--edge wrangler|miniflare]   (default wrangler, as npm start; miniflare: no wrangler proxy)
//                   [--database postgres://127.0.0.1:5432/test]   (a scratch database there; default PGlite)
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { placeDemoCall } from "../scripts/platform/demo-call.ts";
import { type Platform, type PlatformPorts, PORT_VARS, startPlatform } from "../scripts/platform/platform.ts";
import { freePort } from "../scripts/platform/processes.ts";
import { PROVIDER_VARS } from "../scripts/platform/providers.ts";
import { createScratchDatabase } from "../workers/src/db/node.ts";
import { compareHeapSummaries, type HeapGrowth, summarizeHeapSnapshot } from "./lib/heap-snapshot.ts";
import { WorkerdInspector } from "./lib/inspector.ts";
import { procRssAnonBytes, procRssBytes, REPO_ROOT } from "./lib/proc.ts";
import { round, type Sample, summarizeSeries, writeSeries } from "./lib/soak-series.ts";

const MB = 1024 * 1024;

/** This process: the callers and the demo tools, and PGlite unless --database names a Postgres. */
const SELF = process.argv.includes("--database") ? "soak (tools, callers)" : "soak (PGlite, tools, callers)";

interface ProcessInfo {
  label: string;
  pid: number;
}

/** Process ids whose process group is `pgid`, with their command name. */
function groupMembers(pgid: number): { pid: number; comm: string; cmdline: string }[] {
  const out: { pid: number; comm: string; cmdline: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== pgid) continue;
      out.push({
        pid: Number(entry),
        comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
        cmdline: readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " "),
      });
    } catch {
      // ended while we looked
    }
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** The processes we own, labelled; looked up again at each sample (a crashed child comes back with a new pid). */
function processes(platform: Platform): ProcessInfo[] {
  const list: ProcessInfo[] = [];
  const child = (name: string) => platform.children.get(name)?.current().pid;
  const media = child("media-node");
  if (media) list.push({ label: "media node", pid: media });
  const edge = child("edge");
  if (edge) {
    for (const m of groupMembers(edge)) {
      // wrangler dev runs two workerd: the user Worker's (with the inspector socket) and its own proxy Worker's.
      if (m.comm === "workerd") {
        list.push({
          label: m.cmdline.includes("inspector") ? "workerd (edge Worker)" : "workerd (wrangler proxy)",
          pid: m.pid,
        });
      } else if (m.cmdline.includes("wrangler-dist/cli.js")) {
        list.push({ label: "wrangler dev (node)", pid: m.pid });
      } else if (m.cmdline.includes("miniflare-edge.ts")) {
        list.push({ label: "Miniflare host (node)", pid: m.pid });
      }
    }
  }
  for (const name of ["deepgram-emulator", "bedrock-emulator"]) {
    const pid = child(name);
    if (pid) list.push({ label: name.replace("-", " "), pid });
  }
  list.push({ label: SELF, pid: process.pid });
  return list;
}

async function mediaHeapMb(platform: Platform): Promise<number | undefined> {
  try {
    const res = await fetch(`${platform.mediaUrl.replace(/^ws/, "http")}/metrics`, {
      signal: AbortSignal.timeout(3_000),
    });
    const m = /^nodejs_heap_used_bytes\s+([\d.e+]+)/m.exec(await res.text());
    return m ? Number(m[1]) / MB : undefined;
  } catch {
    return undefined;
  }
}

interface Options {
  minutes: number;
  concurrency: number;
  idleMinutes: number;
  sampleSeconds: number;
  snapshots: "end" | "all" | "none";
  outDir: string;
  edge: "wrangler" | "miniflare";
  /** A Postgres server to hold the platform's database (a scratch database on it); default PGlite in memory. */
  database: string | undefined;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      minutes: { type: "string", default: "5" },
      concurrency: { type: "string", default: "5" },
      "idle-minutes": { type: "string", default: "2" },
      "sample-seconds": { type: "string", default: "5" },
      snapshots: { type: "string", default: "end" },
      out: { type: "string", default: path.join(REPO_ROOT, "bench/results") },
      edge: { type: "string", default: "wrangler" },
      database: { type: "string" },
    },
    strict: true,
  });
  const num = (name: string, raw: string | undefined, min: number) => {
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min) throw new Error(`--${name} must be a number ≥ ${min} (got ${raw})`);
    return v;
  };
  return {
    minutes: num("minutes", values.minutes, 0.1),
    concurrency: Math.floor(num("concurrency", values.concurrency, 1)),
    idleMinutes: num("idle-minutes", values["idle-minutes"], 0),
    sampleSeconds: num("sample-seconds", values["sample-seconds"], 1),
    snapshots: values.snapshots === "all" || values.snapshots === "none" ? values.snapshots : "end",
    outDir: values.out ?? path.join(REPO_ROOT, "bench/results"),
    edge: values.edge === "miniflare" ? "miniflare" : "wrangler",
    database: values.database,
  };
}

async function main(): Promise<void> {
  const o = parseOptions();
  const log = (line: string) => process.stderr.write(`soak: ${line}\n`);
  const ports = {} as PlatformPorts;
  for (const key of Object.keys(PORT_VARS) as (keyof PlatformPorts)[]) ports[key] = await freePort();
  const inspectorPort = await freePort();
  const dataDir = await mkdtemp(path.join(tmpdir(), "aybiza-soak-"));
  const env: Record<string, string | undefined> = { ...process.env };
  // Offline, whatever the shell holds: the emulators stand in for Deepgram and Bedrock.
  for (const name of [...PROVIDER_VARS, "DATABASE_URL", "TWILIO_AUTH_TOKEN"]) delete env[name];
  env.MEDIA_LOG_LEVEL = "warn";
  // PGlite serves one connection at a time in this process, which also runs the callers: under 20 calls it times
  // out and interleaves the edge's connections ("bind message supplies 21 parameters…"), and every retry is load
  // the edge would not otherwise see. A real Postgres takes that off the measurement.
  const scratch = o.database ? await createScratchDatabase(o.database, { prefix: "aybiza_soak" }) : undefined;
  if (scratch) env.DATABASE_URL = scratch.url;

  log(
    `starting the platform (${o.edge === "wrangler" ? "wrangler dev" : "Miniflare"}, media node, emulators) on free ports`,
  );
  const platform = await startPlatform({
    dataDir,
    ports,
    env,
    ...(scratch ? {} : { pgliteDir: "memory://" }),
    edgeInspectorPort: inspectorPort,
    edgeRuntime: o.edge,
    log,
  }).catch(async (err: unknown) => {
    await scratch?.drop().catch(() => undefined);
    throw err;
  });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const snapshotDir = path.join(o.outDir, `soak-${stamp}-snapshots`);
  const inspector = new WorkerdInspector(inspectorPort);
  const samples: Sample[] = [];
  let done = 0;
  let failed = 0;
  let active = 0;
  const failures = new Map<string, number>();
  let phase: Sample["phase"] = "load";
  const t0 = Date.now();
  const minute = () => (Date.now() - t0) / 60_000;

  const sample = async () => {
    const rssMb: Record<string, number> = {};
    const anonMb: Record<string, number> = {};
    for (const p of processes(platform)) {
      const rss = procRssBytes(p.pid);
      if (rss !== null) rssMb[p.label] = round(rss / MB);
      const anon = procRssAnonBytes(p.pid);
      if (anon !== null) anonMb[p.label] = round(anon / MB);
    }
    const heapMb: Record<string, number> = {};
    const media = await mediaHeapMb(platform);
    if (media !== undefined) heapMb["media node"] = round(media);
    const edge = await inspector.heapMb();
    if (edge !== undefined) heapMb["workerd (edge Worker)"] = round(edge);
    if (o.edge === "miniflare") {
      for (const [id, mb] of Object.entries(await inspector.simulatorHeapsMb()))
        heapMb[`workerd isolate ${id}`] = round(mb);
    }
    heapMb[SELF] = round(process.memoryUsage().heapUsed / MB);
    samples.push({
      minute: Math.round(minute() * 100) / 100,
      phase,
      callsDone: done,
      callsFailed: failed,
      callsActive: active,
      rssMb,
      anonMb,
      heapMb,
    });
  };

  const snapshots: Record<string, string> = {};
  const snap = async (name: string) => {
    if (o.snapshots === "none" || (o.snapshots === "end" && name !== "after-idle")) return;
    await mkdir(snapshotDir, { recursive: true });
    const file = path.join(snapshotDir, `workerd-${name}.heapsnapshot`);
    const started = Date.now();
    try {
      await inspector.snapshot(file);
      snapshots[name] = file;
      log(
        `heap snapshot of workerd (${name}) in ${((Date.now() - started) / 1000).toFixed(1)} s: ${path.relative(REPO_ROOT, file)}`,
      );
    } catch (err) {
      log(`heap snapshot of workerd (${name}) failed: ${(err as Error).message}`);
    }
  };

  let stopRequested = false;
  process.on("SIGINT", () => {
    log("SIGINT: ending the load early, then the idle period is skipped");
    stopRequested = true;
  });

  try {
    await snap("before");
    await sample();
    const sampler = setInterval(() => void sample(), o.sampleSeconds * 1000);
    const loadEnds = t0 + o.minutes * 60_000;
    // A snapshot once warm (minute 10, or a sixth of a shorter run): growth after it is what a leak looks like.
    const warmTimer = setTimeout(() => void snap("warm"), Math.min(10, o.minutes / 6) * 60_000);
    log(`load: ${o.concurrency} calls at a time for ${o.minutes} min`);
    const progress = setInterval(
      () => log(`${minute().toFixed(1)} min: ${done} calls done, ${failed} failed, ${active} live`),
      60_000,
    );
    await Promise.all(
      Array.from({ length: o.concurrency }, async (_, worker) => {
        // Spread the first calls over a few seconds, as real traffic does.
        await new Promise((r) => setTimeout(r, worker * 400));
        while (Date.now() < loadEnds && !stopRequested) {
          active++;
          try {
            const call = await placeDemoCall({
              edgeUrl: platform.edgeUrl,
              apiKey: platform.tenant.apiKey,
              authToken: platform.twilioAuthToken,
              from: platform.demoCaller,
              to: platform.tenant.number,
              deepgramEmulatorUrl: platform.deepgramEmulatorUrl,
            });
            if (call.report.errors.length > 0) throw new Error(call.report.errors[0]);
            done++;
          } catch (err) {
            failed++;
            const key = ((err as Error).message ?? String(err)).slice(0, 120);
            failures.set(key, (failures.get(key) ?? 0) + 1);
            // A refused or failed call: do not spin.
            await new Promise((r) => setTimeout(r, 1_000));
          } finally {
            active--;
          }
        }
      }),
    );
    clearInterval(progress);
    clearTimeout(warmTimer);
    const loadMinutes = minute();
    log(`load done at ${loadMinutes.toFixed(1)} min: ${done} calls, ${failed} failed`);
    await snap("after-load");
    phase = "idle";
    if (!stopRequested && o.idleMinutes > 0) {
      log(`idle for ${o.idleMinutes} min`);
      await new Promise((r) => setTimeout(r, o.idleMinutes * 60_000));
    }
    clearInterval(sampler);
    await sample();
    await snap("after-idle");

    // Growth from the warm mark (minute 10, or a sixth of a shorter load) to the end of the load and of the idle.
    const warmMinute = Math.min(10, loadMinutes / 6);
    const summary = summarizeSeries(samples, warmMinute);
    const heapComparison: { before: string; after: string; totalBytes: [number, number]; growth: HeapGrowth[] }[] = [];
    {
      const pairs: [string, string][] = [
        ["before", "after-idle"],
        ["warm", "after-load"],
        ["warm", "after-idle"],
      ];
      for (const [a, b] of pairs) {
        const fileA = snapshots[a];
        const fileB = snapshots[b];
        if (!fileA || !fileB) continue;
        const before = await summarizeHeapSnapshot(fileA);
        const after = await summarizeHeapSnapshot(fileB);
        heapComparison.push({
          before: a,
          after: b,
          totalBytes: [before.totalBytes, after.totalBytes],
          growth: compareHeapSummaries(before, after),
        });
      }
    }

    // What the last snapshot holds: a Durable Object's storage without its object is what a leak looks like.
    let endHeap: { heapMb: number; liveObjects: number; objectStorages: number } | undefined;
    if (snapshots["after-idle"]) {
      const end = await summarizeHeapSnapshot(snapshots["after-idle"]);
      const count = (key: string) => end.groups.get(key)?.count ?? 0;
      endHeap = {
        heapMb: round(end.totalBytes / MB),
        liveObjects: count("native workerd / DurableObjectState"),
        objectStorages: count("native workerd / SqlStorage"),
      };
    }
    const base = path.join(o.outDir, `soak-${o.edge}-${stamp}`);
    await mkdir(o.outDir, { recursive: true });
    const result = {
      command: `npm run soak -- --minutes ${o.minutes} --concurrency ${o.concurrency} --idle-minutes ${o.idleMinutes} --edge ${o.edge}${o.database ? ` --database ${o.database}` : ""}`,
      database: scratch ? "Postgres (a scratch database)" : "PGlite in memory, in the soak's process",
      edge:
        o.edge === "wrangler" ? "wrangler dev (as npm start)" : "Miniflare API (scripts/platform/miniflare-edge.ts)",
      startedAt: new Date(t0).toISOString(),
      loadMinutes: round(loadMinutes),
      idleMinutes: stopRequested ? 0 : o.idleMinutes,
      concurrency: o.concurrency,
      calls: { done, failed, failures: Object.fromEntries(failures) },
      warmMinute: round(warmMinute),
      summary,
      endHeap,
      heapComparison,
      samples,
    };
    await writeFile(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
    await writeSeries(base, samples, { concurrency: o.concurrency, loadMinutes, calls: done });
    log(`wrote ${path.relative(REPO_ROOT, base)}.{json,csv,svg} and -heap.svg`);
    process.stdout.write(
      `${JSON.stringify({ calls: result.calls, warmMinute: result.warmMinute, summary }, null, 2)}\n`,
    );
    if (heapComparison.length > 0) {
      for (const c of heapComparison) {
        process.stdout.write(
          `\nworkerd heap ${c.before} → ${c.after}: ${round(c.totalBytes[0] / MB)} → ${round(c.totalBytes[1] / MB)} MB\n`,
        );
        for (const g of c.growth.slice(0, 12)) {
          process.stdout.write(
            `  ${g.key.padEnd(60)} ${g.countBefore} → ${g.countAfter} objects, ${round(g.bytesBefore / 1024)} → ${round(g.bytesAfter / 1024)} KB\n`,
          );
        }
      }
    }
  } finally {
    inspector.close();
    await platform.stop();
    await rm(dataDir, { recursive: true, force: true });
    await scratch?.drop().catch((err: unknown) => log(`dropping ${scratch.name} failed: ${(err as Error).message}`));
  }
}

await main();
process.exit(0);
