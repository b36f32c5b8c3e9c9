// npm run soak -- --minutes N [--concurrency C]: memory over time. Starts the platform as `npm start` does (wrangler
// dev's workerd for the edge, the media node and the emulators as child processes, PGlite and the demo tools
// here), places demo calls through the real path without pause (signed Twilio webhook → edge → TwiML → the
// simulated caller on the media node, with the call's live feed open, then the status callback), C at a time for
// N minutes, then leaves it idle, and samples every process's resident memory, the media node's V8 heap (its
// /metrics) and workerd's V8 heap (its inspector) every few seconds. workerd's heap is snapshotted before the
// load, after it and after the idle time, and the snapshots are compared by kind of object.
//
// Writes bench/results/soak-<time>.json (series, summary, heap comparison), .csv and .svg (the plot). Too long for
// CI; see docs/reliability.md, "Memory over time".
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
import { InspectorSession, inspectorTargets, workerTarget } from "./lib/inspector.ts";
import { procRssAnonBytes, procRssBytes, REPO_ROOT } from "./lib/proc.ts";
import { lineChartSvg } from "./lib/svg-plot.ts";

const MB = 1024 * 1024;

interface Sample {
  /** Minutes since the load started (negative: before it). */
  minute: number;
  phase: "load" | "idle";
  callsDone: number;
  callsFailed: number;
  callsActive: number;
  /** Resident memory in MB by process label. */
  rssMb: Record<string, number>;
  /** Of it, anonymous memory (malloc'd, V8 heap pages; not mapped files), in MB by process label. */
  anonMb: Record<string, number>;
  /** V8 heap in use, in MB, by process label (where it can be read). */
  heapMb: Record<string, number>;
}

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

class WorkerdInspector {
  private session: InspectorSession | undefined;
  private others: { id: string; session: InspectorSession }[] | undefined;
  constructor(private readonly port: number) {}

  private async connect(): Promise<InspectorSession> {
    if (this.session) return this.session;
    const target = await workerTarget(this.port);
    this.session = await InspectorSession.connect(target.webSocketDebuggerUrl);
    return this.session;
  }

  async heapMb(): Promise<number | undefined> {
    try {
      return (await (await this.connect()).heapUsage()).usedBytes / MB;
    } catch {
      this.session?.close();
      this.session = undefined;
      return undefined;
    }
  }

  /** The V8 heap in use of each of workerd's other isolates, by inspector target: Miniflare's own Workers (its
   * entry Worker in front of every request, the queue broker, the cache …), which the edge Worker's target does
   * not count. Only workerd's own inspector lists them (Miniflare's API); wrangler dev's proxy shows the user's. */
  async simulatorHeapsMb(): Promise<Record<string, number>> {
    try {
      if (!this.others) {
        const targets = (await inspectorTargets(this.port)).filter((t) => !t.id.startsWith("core:user:"));
        this.others = await Promise.all(
          targets.map(async (t) => ({ id: t.id, session: await InspectorSession.connect(t.webSocketDebuggerUrl) })),
        );
      }
      const used = await Promise.all(
        this.others.map(async (o) => [o.id, (await o.session.heapUsage()).usedBytes / MB] as const),
      );
      return Object.fromEntries(used);
    } catch {
      for (const o of this.others ?? []) o.session.close();
      this.others = undefined;
      return {};
    }
  }

  async snapshot(file: string): Promise<void> {
    await (await this.connect()).heapSnapshot(file);
  }

  close(): void {
    this.session?.close();
    for (const o of this.others ?? []) o.session.close();
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

/** The value of a series at the first sample at or after `minute`, and at the last sample of `phase`. */
function growth(
  samples: Sample[],
  label: string,
  key: "rssMb" | "anonMb" | "heapMb",
  fromMinute: number,
  phase: Sample["phase"],
) {
  const from = samples.find((s) => s.minute >= fromMinute && s[key][label] !== undefined)?.[key][label];
  const last = samples.filter((s) => s.phase === phase && s[key][label] !== undefined).at(-1)?.[key][label];
  if (from === undefined || last === undefined) return undefined;
  return { fromMb: round(from), toMb: round(last), growthPct: round(((last - from) / from) * 100) };
}

const round = (n: number) => Math.round(n * 10) / 10;

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
    const labels = [...new Set(samples.flatMap((s) => Object.keys(s.rssMb)))];
    const heapLabels = [...new Set(samples.flatMap((s) => Object.keys(s.heapMb)))];
    const series = (key: "rssMb" | "anonMb" | "heapMb", names: string[]) =>
      Object.fromEntries(
        names.map((l) => [
          l,
          {
            atStart: samples[0]?.[key][l],
            load: growth(samples, l, key, warmMinute, "load"),
            idle: growth(samples, l, key, warmMinute, "idle"),
          },
        ]),
      );
    const summary = {
      rss: series("rssMb", labels),
      anon: series("anonMb", labels),
      heap: series("heapMb", heapLabels),
    };
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
    const csvHeader = [
      "minute",
      "phase",
      "calls_done",
      "calls_failed",
      "calls_active",
      ...labels.map((l) => `rss_mb:${l}`),
      ...labels.map((l) => `anon_mb:${l}`),
      ...heapLabels.map((l) => `heap_mb:${l}`),
    ];
    const csv = [
      csvHeader.map((h) => JSON.stringify(h)).join(","),
      ...samples.map((s) =>
        [
          s.minute,
          s.phase,
          s.callsDone,
          s.callsFailed,
          s.callsActive,
          ...labels.map((l) => s.rssMb[l] ?? ""),
          ...labels.map((l) => s.anonMb[l] ?? ""),
          ...heapLabels.map((l) => s.heapMb[l] ?? ""),
        ].join(","),
      ),
    ].join("\n");
    await writeFile(`${base}.csv`, `${csv}\n`);
    const idleSpan = [{ from: loadMinutes, to: samples.at(-1)?.minute ?? loadMinutes, label: "idle" }];
    await writeFile(
      `${base}.svg`,
      lineChartSvg({
        title: `Resident memory, ${o.concurrency} calls at a time for ${round(loadMinutes)} min (${done} calls)`,
        xLabel: "minutes",
        yLabel: "RSS (MB)",
        series: labels.map((l) => ({
          label: l,
          points: samples.filter((s) => s.rssMb[l] !== undefined).map((s) => [s.minute, s.rssMb[l] as number]),
        })),
        spans: idleSpan,
      }),
    );
    await writeFile(
      `${base}-heap.svg`,
      lineChartSvg({
        title: `V8 heap in use, ${o.concurrency} calls at a time (${done} calls)`,
        xLabel: "minutes",
        yLabel: "heap used (MB)",
        series: heapLabels.map((l) => ({
          label: l,
          points: samples.filter((s) => s.heapMb[l] !== undefined).map((s) => [s.minute, s.heapMb[l] as number]),
        })),
        spans: idleSpan,
      }),
    );
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
