// A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text
// exposition format (version 0.0.4). The media node needs a handful of series on a hot path (every
// outbound frame observes a histogram), so observing is a few array writes, with no allocation per call.

export type Labels = Readonly<Record<string, string>>;

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  render(out: string[]): void;
}

const NAME_PATTERN = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function labelKey(labels: Labels | undefined): string {
  if (!labels) return "";
  const keys = Object.keys(labels).sort();
  let out = "";
  for (const key of keys) {
    if (!LABEL_PATTERN.test(key)) throw new Error(`invalid metric label name "${key}"`);
    out += `${out ? "," : ""}${key}="${escapeLabelValue(labels[key] ?? "")}"`;
  }
  return out;
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

function series(name: string, key: string, extra?: string): string {
  const inner = key && extra ? `${key},${extra}` : key || extra || "";
  return inner ? `${name}{${inner}}` : name;
}

export class Counter implements Metric {
  readonly type = "counter" as const;
  readonly #values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels?: Labels, by = 1): void {
    if (by < 0) throw new Error(`counter ${this.name} cannot decrease`);
    const key = labelKey(labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }

  get(labels?: Labels): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }

  render(out: string[]): void {
    for (const [key, value] of this.#values) out.push(`${series(this.name, key)} ${formatNumber(value)}`);
  }
}

export class Gauge implements Metric {
  readonly type = "gauge" as const;
  readonly #values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    /** Read at scrape time, for values that live elsewhere (active calls, memory). */
    private readonly collect?: (gauge: Gauge) => void,
  ) {}

  set(value: number, labels?: Labels): void {
    this.#values.set(labelKey(labels), value);
  }

  inc(labels?: Labels, by = 1): void {
    const key = labelKey(labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }

  dec(labels?: Labels, by = 1): void {
    this.inc(labels, -by);
  }

  get(labels?: Labels): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }

  render(out: string[]): void {
    this.collect?.(this);
    for (const [key, value] of this.#values) out.push(`${series(this.name, key)} ${formatNumber(value)}`);
  }
}

class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(buckets: number) {
    this.counts = new Float64Array(buckets);
  }
}

export class Histogram implements Metric {
  readonly type = "histogram" as const;
  readonly buckets: readonly number[];
  readonly #series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    buckets: readonly number[],
  ) {
    const sorted = [...buckets].sort((a, b) => a - b);
    if (sorted.length === 0 || sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) {
      throw new Error(`histogram ${name} needs distinct finite buckets`);
    }
    this.buckets = sorted;
  }

  observe(value: number, labels?: Labels): void {
    const key = labelKey(labels);
    let s = this.#series.get(key);
    if (!s) {
      s = new HistogramSeries(this.buckets.length);
      this.#series.set(key, s);
    }
    // Counts are stored per bucket (not cumulative) and summed at render time: one write per observation.
    const buckets = this.buckets;
    let i = 0;
    while (i < buckets.length && value > buckets[i]!) i++;
    if (i < buckets.length) s.counts[i]! += 1;
    s.sum += value;
    s.count += 1;
  }

  /** Observations and an estimated quantile (upper bound of the bucket holding it), for tests and logs. */
  snapshot(labels?: Labels): { count: number; sum: number; quantile(q: number): number } {
    const s = this.#series.get(labelKey(labels));
    const buckets = this.buckets;
    return {
      count: s?.count ?? 0,
      sum: s?.sum ?? 0,
      quantile(q: number): number {
        if (!s || s.count === 0) return Number.NaN;
        const target = q * s.count;
        let cumulative = 0;
        for (let i = 0; i < buckets.length; i++) {
          cumulative += s.counts[i]!;
          if (cumulative >= target) return buckets[i]!;
        }
        return Number.POSITIVE_INFINITY;
      },
    };
  }

  render(out: string[]): void {
    for (const [key, s] of this.#series) {
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += s.counts[i]!;
        out.push(`${series(`${this.name}_bucket`, key, `le="${formatNumber(this.buckets[i]!)}"`)} ${cumulative}`);
      }
      out.push(`${series(`${this.name}_bucket`, key, 'le="+Inf"')} ${s.count}`);
      out.push(`${series(`${this.name}_sum`, key)} ${formatNumber(s.sum)}`);
      out.push(`${series(`${this.name}_count`, key)} ${s.count}`);
    }
  }
}

export class Registry {
  readonly #metrics = new Map<string, Metric>();

  counter(name: string, help: string): Counter {
    return this.#add(new Counter(name, help));
  }

  gauge(name: string, help: string, collect?: (gauge: Gauge) => void): Gauge {
    return this.#add(new Gauge(name, help, collect));
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, buckets));
  }

  #add<M extends Metric>(metric: M): M {
    if (!NAME_PATTERN.test(metric.name)) throw new Error(`invalid metric name "${metric.name}"`);
    if (this.#metrics.has(metric.name)) throw new Error(`metric ${metric.name} registered twice`);
    this.#metrics.set(metric.name, metric);
    return metric;
  }

  /** The text exposition format; Content-Type `text/plain; version=0.0.4`. */
  render(): string {
    const out: string[] = [];
    for (const metric of this.#metrics.values()) {
      out.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`);
      out.push(`# TYPE ${metric.name} ${metric.type}`);
      metric.render(out);
    }
    return `${out.join("\n")}\n`;
  }
}

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
