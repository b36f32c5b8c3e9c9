// The benchmark's report writer on a tiny real run: one call per system (and one to the Nova-3 agent) through the
// voice-latency section (real media node, real baseline relay, real emulators, each in its own process), the other sections
// skipped. The document must carry every section — figures where measured, a stated reason where not — and
// the machine and commands behind them. Figures themselves are never asserted: benchmarks measure, tests don't.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type BenchResult, SECTION_IDS } from "../../../bench/lib/result.ts";
import { REPORT_HEADINGS, renderReport } from "../../../bench/report.ts";
import { runBench } from "../../../bench/run.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("npm run bench", () => {
  it("writes a JSON result and a document with every section from a small real run", { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "aybiza-bench-test-"));
    dirs.push(dir);
    const outJson = path.join(dir, "result.json");
    const outDoc = path.join(dir, "benchmarks.md");
    await runBench({
      mode: "quick",
      only: ["latency"],
      outJson,
      outDoc,
      latency: { calls: 1, warmup: false, script: ["book-appointment"], nova3Calls: 1 },
      log: () => {},
    });

    const result = JSON.parse(await readFile(outJson, "utf8")) as BenchResult;
    const doc = await readFile(outDoc, "utf8");

    for (const heading of REPORT_HEADINGS) expect(doc.split("\n")).toContain(heading);
    expect(Object.keys(result.sections).sort()).toEqual([...SECTION_IDS].sort());
    // The selected section really ran, against both systems, and the caller heard both answer.
    const latency = result.sections.latency;
    expect(latency.status, latency.status === "not-measured" ? latency.reason : "").toBe("measured");
    if (latency.status === "measured") {
      expect(latency.figures.mediaNode.voiceToVoiceMs.n).toBeGreaterThan(0);
      expect(latency.figures.baseline.voiceToVoiceMs.n).toBeGreaterThan(0);
      // The same node answered a call to the agent whose recognizer is Nova-3.
      expect(latency.figures.nova3?.voiceToVoiceMs.n).toBeGreaterThan(0);
      // The barge-in call: the agent went quiet for the interruption, and the back-channel did not interrupt.
      expect(latency.figures.bargeIn?.interruptions.n).toBe(1);
      expect(latency.figures.bargeIn?.backchannels.interrupted).toBe(0);
    }
    // Every section not run says so, with its reason, instead of silently missing.
    for (const id of SECTION_IDS) {
      const s = result.sections[id];
      if (s.status === "not-measured") expect(doc).toContain(`**Not measured:** ${s.reason}`);
    }
    // Each benchmark names the machine and its command.
    expect(doc).toContain(result.machine.cpuModel);
    expect(doc).toContain(process.version);
    expect(doc).toContain(`| cores | ${result.machine.cores} |`);
    expect(doc).toContain("npm run bench -- --quick --only latency");
    expect(doc).toContain("Barge-in as heard at the caller");
    expect(doc).toContain("| AYBIZA media node (Nova-3) |");
    expect(doc).toContain("published, not measured here");
  });

  it("still writes every section when nothing could be measured", () => {
    const reason = "the emulators did not start";
    const notMeasured = { status: "not-measured" as const, command: "npm run bench", reason };
    const doc = renderReport({
      schema: 1,
      mode: "full",
      command: "npm run bench",
      startedAt: new Date(0).toISOString(),
      finishedAt: new Date(0).toISOString(),
      durationS: 0,
      machine: {
        cpuModel: "test cpu",
        cores: 2,
        memoryBytes: 2 ** 30,
        node: process.version,
        platform: "linux-x64",
        kernel: "test",
        affinity: null,
        loadAverageAtStart: 0,
      },
      placement: "unpinned",
      latencyProfile: {
        name: "realistic",
        sttFinalAfterEndOfSpeechMs: 150,
        sttEndpointingMs: 300,
        llmTtftCacheHitMs: 350,
        llmTtftCacheMissMs: 700,
        llmTokensPerSecond: 80,
        ttsFirstByteMs: 120,
        ttsRealtimeFactor: 4,
      },
      sections: {
        latency: notMeasured,
        capacity: notMeasured,
        mediaNode: notMeasured,
        edge: notMeasured,
        emulators: notMeasured,
      },
    });
    for (const heading of REPORT_HEADINGS) expect(doc.split("\n")).toContain(heading);
    expect(doc.split(`**Not measured:** ${reason}`).length - 1).toBe(5);
  });
});
