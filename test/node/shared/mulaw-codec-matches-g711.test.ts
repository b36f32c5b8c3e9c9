import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MULAW_FRAME_BYTES,
  MULAW_SAMPLE_RATE,
  MULAW_SILENCE,
  mulawToPcm16,
  pcm16ToMulaw,
  resamplePcm16,
  rmsDbfs,
} from "../../../shared/audio/mulaw.ts";

const ALL_CODES = Uint8Array.from({ length: 256 }, (_, code) => code);
const decode = (code: number) => mulawToPcm16(Uint8Array.of(code))[0]!;

function sine(hz: number, rate: number, samples: number, amplitude = 16_000): Int16Array {
  return Int16Array.from({ length: samples }, (_, i) =>
    Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate)),
  );
}

describe("G.711 μ-law decoding", () => {
  it("gives the standard's values at the segment edges", () => {
    // Segment ends of the ITU-T G.711 / G.191 μ-law table (negative half; the top bit mirrors it).
    const table: [number, number][] = [
      [0x00, -32124],
      [0x0f, -16764],
      [0x10, -15996],
      [0x1f, -8316],
      [0x20, -7932],
      [0x2f, -4092],
      [0x30, -3900],
      [0x3f, -1980],
      [0x40, -1884],
      [0x7f, 0],
      [0x80, 32124],
      [0xff, 0],
    ];
    for (const [code, value] of table) expect(decode(code), `0x${code.toString(16)}`).toBe(value);
  });

  it("is symmetric and steps by 2^(segment+3) within each of the eight segments", () => {
    const pcm = mulawToPcm16(ALL_CODES);
    for (let code = 0; code < 128; code++) expect(pcm[code | 0x80]! + pcm[code]!).toBe(0);
    for (let segment = 0; segment < 8; segment++) {
      // Codes 0xFF.. count down from zero; segment s holds the 16 codes below 0xFF - 16s.
      const top = 0xff - 16 * segment;
      for (let step = 0; step < 15; step++) {
        expect(pcm[top - step - 1]! - pcm[top - step]!).toBe(2 ** (segment + 3));
      }
    }
  });

  it("decodes a silent 20 ms frame to 160 zero samples", () => {
    expect(MULAW_FRAME_BYTES / (MULAW_SAMPLE_RATE / 1000)).toBe(20);
    const frame = new Uint8Array(MULAW_FRAME_BYTES).fill(MULAW_SILENCE);
    expect(mulawToPcm16(frame)).toEqual(new Int16Array(MULAW_FRAME_BYTES));
    expect(rmsDbfs(mulawToPcm16(frame))).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe("G.711 μ-law encoding", () => {
  it("encodes zero as 0xFF, the silence code", () => {
    expect(pcm16ToMulaw(new Int16Array(MULAW_FRAME_BYTES))).toEqual(new Uint8Array(MULAW_FRAME_BYTES).fill(0xff));
  });

  it("maps every code's value back to that code (0x7F, negative zero, becomes 0xFF)", () => {
    const back = pcm16ToMulaw(mulawToPcm16(ALL_CODES));
    for (let code = 0; code < 256; code++)
      expect(back[code], `0x${code.toString(16)}`).toBe(code === 0x7f ? 0xff : code);
  });

  it("round-trips every 16-bit sample within half a quantisation step (about 3% of the level)", () => {
    const samples = Int16Array.from({ length: 65_536 }, (_, i) => i - 32_768);
    const decoded = mulawToPcm16(pcm16ToMulaw(samples));
    // Collected rather than asserted per sample: 65 536 expect() calls would dominate the run time.
    const wrong: string[] = [];
    let previous = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < samples.length; i++) {
      const sample = samples[i]!;
      const out = decoded[i]!;
      // Decoding returns the middle of the interval: error ≤ half of 2^(segment+3) ≤ (|x| + 132) / 32.
      const ok =
        Math.abs(sample) <= 32_635
          ? Math.abs(out - sample) <= (Math.abs(sample) + 132) / 32
          : out === Math.sign(sample) * 32_124;
      if (!ok || out < previous) wrong.push(`${sample} -> ${out}`);
      previous = out;
    }
    expect(wrong).toEqual([]);
  });

  // Each μ-law step is at most 1/16 of the value it encodes, so rounding moves any sample by at most
  // 1/32 (0.27 dB). A tone whose frequency hits only a few phases can't average that out, hence 0.3 dB.
  it("keeps a speech-level tone's level within 0.3 dB", () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 3_800 }), fc.integer({ min: 500, max: 30_000 }), (hz, amplitude) => {
        const tone = sine(hz, MULAW_SAMPLE_RATE, 1_600, amplitude);
        expect(Math.abs(rmsDbfs(mulawToPcm16(pcm16ToMulaw(tone))) - rmsDbfs(tone))).toBeLessThan(0.3);
      }),
    );
  });
});

describe("resampling for the 16 kHz browser transport", () => {
  it("turns a 20 ms frame into the matching number of samples", () => {
    expect(resamplePcm16(new Int16Array(160), 8_000, 16_000)).toHaveLength(320);
    expect(resamplePcm16(new Int16Array(320), 16_000, 8_000)).toHaveLength(160);
    expect(resamplePcm16(new Int16Array(480), 24_000, 16_000)).toHaveLength(320);
    expect(resamplePcm16(new Int16Array(0), 8_000, 16_000)).toHaveLength(0);
  });

  it("keeps a steady level steady", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -32_768, max: 32_767 }),
        fc.constantFrom(8_000, 16_000, 24_000, 48_000),
        fc.constantFrom(8_000, 16_000, 24_000, 48_000),
        (level, from, to) => {
          const out = resamplePcm16(new Int16Array(960).fill(level), from, to);
          expect(out.every((sample) => sample === level)).toBe(true);
        },
      ),
    );
  });

  it("upsampling a speech tone gives the same tone at the higher rate", () => {
    // Where speech has most of its energy; linear interpolation gets coarse towards 4 kHz.
    for (const hz of [200, 440, 1_000]) {
      const up = resamplePcm16(sine(hz, 8_000, 800), 8_000, 16_000);
      const ideal = sine(hz, 16_000, 1_600);
      const error = Int16Array.from(up, (sample, i) => sample - ideal[i]!);
      // Linear interpolation: the error is at least 20 dB under the tone at these frequencies.
      expect(rmsDbfs(error.subarray(0, -2)), `${hz} Hz`).toBeLessThan(rmsDbfs(ideal) - 20);
    }
  });

  it("downsampling keeps speech and damps what would alias", () => {
    const speech = resamplePcm16(sine(1_000, 16_000, 1_600), 16_000, 8_000);
    expect(Math.abs(rmsDbfs(speech) - rmsDbfs(sine(1_000, 8_000, 800)))).toBeLessThan(0.5);
    // 6 kHz cannot exist at 8 kHz; dropping every other sample would fold it to 2 kHz at full level.
    const hiss = sine(6_000, 16_000, 1_600);
    expect(rmsDbfs(resamplePcm16(hiss, 16_000, 8_000))).toBeLessThan(rmsDbfs(hiss) - 6);
  });
});

describe("rmsDbfs", () => {
  it("reads a full-scale sine as -3 dBFS and halving the amplitude as 6 dB less", () => {
    const full = sine(1_000, 8_000, 8_000, 32_767);
    expect(rmsDbfs(full)).toBeCloseTo(-3.01, 1);
    expect(rmsDbfs(sine(1_000, 8_000, 8_000, 16_384)) - rmsDbfs(full)).toBeCloseTo(-6.02, 1);
    expect(rmsDbfs(new Int16Array(100).fill(-32_768))).toBe(0);
    expect(rmsDbfs(new Int16Array(0))).toBe(Number.NEGATIVE_INFINITY);
  });
});
