// The soak's series (bench/soak.ts): the samples, their growth from the warm mark, and the files written from them
// (CSV and the two SVG plots beside the JSON).
import { writeFile } from "node:fs/promises";
import { lineChartSvg } from "./svg-plot.ts";

export interface Sample {
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

export const round = (n: number) => Math.round(n * 10) / 10;

type Key = "rssMb" | "anonMb" | "heapMb";

/** The value of a series at the first sample at or after `minute`, and at the last sample of `phase`. */
function growth(samples: Sample[], label: string, key: Key, fromMinute: number, phase: Sample["phase"]) {
  const from = samples.find((s) => s.minute >= fromMinute && s[key][label] !== undefined)?.[key][label];
  const last = samples.filter((s) => s.phase === phase && s[key][label] !== undefined).at(-1)?.[key][label];
  if (from === undefined || last === undefined) return undefined;
  return { fromMb: round(from), toMb: round(last), growthPct: round(((last - from) / from) * 100) };
}

/** Each series' first value and its growth from `warmMinute` to the end of the load and of the idle time. */
export function summarizeSeries(samples: Sample[], warmMinute: number) {
  const labels = seriesLabels(samples, "rssMb");
  const series = (key: Key, names: string[]) =>
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
  return {
    rss: series("rssMb", labels),
    anon: series("anonMb", labels),
    heap: series("heapMb", seriesLabels(samples, "heapMb")),
  };
}

function seriesLabels(samples: Sample[], key: Key): string[] {
  return [...new Set(samples.flatMap((s) => Object.keys(s[key])))];
}

/** `<base>.csv`, `<base>.svg` (RSS) and `<base>-heap.svg` (V8 heaps). */
export async function writeSeries(
  base: string,
  samples: Sample[],
  run: { concurrency: number; loadMinutes: number; calls: number },
): Promise<void> {
  const labels = seriesLabels(samples, "rssMb");
  const heapLabels = seriesLabels(samples, "heapMb");
  const header = [
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
    header.map((h) => JSON.stringify(h)).join(","),
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
  const spans = [{ from: run.loadMinutes, to: samples.at(-1)?.minute ?? run.loadMinutes, label: "idle" }];
  const plot = (key: "rssMb" | "heapMb", names: string[]) =>
    names.map((l) => ({
      label: l,
      points: samples
        .filter((s) => s[key][l] !== undefined)
        .map((s) => [s.minute, s[key][l] as number] as [number, number]),
    }));
  await writeFile(
    `${base}.svg`,
    lineChartSvg({
      title: `Resident memory, ${run.concurrency} calls at a time for ${round(run.loadMinutes)} min (${run.calls} calls)`,
      xLabel: "minutes",
      yLabel: "RSS (MB)",
      series: plot("rssMb", labels),
      spans,
    }),
  );
  await writeFile(
    `${base}-heap.svg`,
    lineChartSvg({
      title: `V8 heap in use, ${run.concurrency} calls at a time (${run.calls} calls)`,
      xLabel: "minutes",
      yLabel: "heap used (MB)",
      series: plot("heapMb", heapLabels),
      spans,
    }),
  );
}
