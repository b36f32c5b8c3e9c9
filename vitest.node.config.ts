import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

// The slowest files, longest first (measured 2026-12-06, docs/testing.md). They start before everything else so
// that none of them starts last and runs alone at the end: on a fresh clone (CI) vitest has no timings and would
// order files by size, and the longest file used to start twenty minutes in. A file not listed keeps vitest's order.
const SLOW_FIRST = [
  "platform/a-signal-to-npm-its-group-or-a-child-stops-everything.test.ts",
  "media/speculative-replies-over-flux-and-nova.test.ts",
  "platform/ctrl-c-stops-every-process-it-started.test.ts",
  "console/console-pages-in-a-real-browser.test.ts",
  "e2e/call-is-analyzed-and-priced-after-it-ends.test.ts",
  "platform/children-exit-when-npm-start-is-killed.test.ts",
  "media/real-clients-against-emulators-handle-a-whole-call.test.ts",
  "bench/bench-quick-mode-writes-a-report.test.ts",
  "platform/media-node-drains-on-a-real-sigterm.test.ts",
  "platform/start-failures-are-one-clear-line.test.ts",
  "media/model-and-voice-faults-are-spoken-and-stored.test.ts",
  "platform/a-crashed-media-node-or-emulator-is-restarted.test.ts",
  "platform/demo-call-through-the-edge-is-recorded-with-waterfalls.test.ts",
  "e2e/call-outlives-a-media-node-killed-mid-answer.test.ts",
];

class SlowFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const i = SLOW_FIRST.findIndex((path) => spec.moduleId.endsWith(`/test/node/${path}`));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    return sorted
      .map((spec, i) => ({ spec, i, rank: rank(spec) }))
      .sort((a, b) => a.rank - b.rank || a.i - b.i)
      .map(({ spec }) => spec);
  }
}

// Node-side suites: shared code, emulators, media node, scripts. Worker suites run in workerd (vitest.workers.config.ts).
export default defineConfig({
  test: {
    include: ["test/node/**/*.test.ts"],
    environment: "node",
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: real-time pacing tests must not fight each other for the CPU.
    maxWorkers: 2,
    sequence: { sequencer: SlowFilesFirst },
  },
});
