// A line chart as a standalone SVG (no library, no fonts to load): the soak's memory series over time. One
// colour per series, a legend, axes with round ticks, and shaded spans (the idle period after the load).

export interface PlotSeries {
  label: string;
  /** [x, y] pairs in the axis units (minutes, MB). */
  points: [number, number][];
}

export interface PlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: PlotSeries[];
  /** Shaded x ranges with a caption, e.g. the idle minutes after the load. */
  spans?: { from: number; to: number; label: string }[];
  width?: number;
  height?: number;
}

const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/** 1, 2 or 5 times a power of ten, so that about `count` ticks span `max`. */
function niceStep(max: number, count: number): number {
  const raw = Math.max(max, 1e-9) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function lineChartSvg(o: PlotOptions): string {
  const width = o.width ?? 900;
  const height = o.height ?? 460;
  const m = { left: 64, right: 200, top: 40, bottom: 48 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const all = o.series.flatMap((s) => s.points);
  const xMax = Math.max(1e-9, ...all.map(([x]) => x));
  const yMax = Math.max(1e-9, ...all.map(([, y]) => y)) * 1.08;
  const xStep = niceStep(xMax, 8);
  const yStep = niceStep(yMax, 6);
  const xs = (x: number) => m.left + (x / xMax) * w;
  const ys = (y: number) => m.top + h - (y / yMax) * h;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${m.left}" y="22" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
  ];
  for (const span of o.spans ?? []) {
    const x0 = xs(Math.max(0, span.from));
    const x1 = xs(Math.min(xMax, span.to));
    out.push(`<rect x="${x0}" y="${m.top}" width="${Math.max(0, x1 - x0)}" height="${h}" fill="#eee"/>`);
    out.push(`<text x="${x0 + 4}" y="${m.top + 14}" fill="#666">${esc(span.label)}</text>`);
  }
  for (let y = 0; y <= yMax; y += yStep) {
    out.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${ys(y)}" y2="${ys(y)}" stroke="#ddd"/>`);
    out.push(`<text x="${m.left - 6}" y="${ys(y) + 4}" text-anchor="end">${+y.toFixed(6)}</text>`);
  }
  for (let x = 0; x <= xMax; x += xStep) {
    out.push(`<line x1="${xs(x)}" x2="${xs(x)}" y1="${m.top + h}" y2="${m.top + h + 4}" stroke="#333"/>`);
    out.push(`<text x="${xs(x)}" y="${m.top + h + 18}" text-anchor="middle">${+x.toFixed(6)}</text>`);
  }
  out.push(
    `<line x1="${m.left}" x2="${m.left + w}" y1="${m.top + h}" y2="${m.top + h}" stroke="#333"/>`,
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + h}" stroke="#333"/>`,
    `<text x="${m.left + w / 2}" y="${height - 10}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text transform="translate(16 ${m.top + h / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  o.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    if (s.points.length > 0) {
      const d = s.points.map(([x, y], j) => `${j === 0 ? "M" : "L"}${xs(x).toFixed(1)},${ys(y).toFixed(1)}`).join("");
      out.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="1.6"/>`);
    }
    const ly = m.top + 10 + i * 20;
    out.push(
      `<line x1="${m.left + w + 14}" x2="${m.left + w + 34}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="3"/>`,
      `<text x="${m.left + w + 40}" y="${ly + 4}">${esc(s.label)}</text>`,
    );
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
