// Self-contained G.711 μ-law and WAV helpers for the simulated caller. The emulator keeps its own codec
// (rather than importing shared/audio) so a bug in the platform's codec cannot be mirrored here.

export const SAMPLE_RATE = 8000;
export const FRAME_MS = 20;
/** One 20 ms frame of 8 kHz μ-law: 160 bytes. */
export const FRAME_BYTES = (SAMPLE_RATE * FRAME_MS) / 1000;
/** μ-law silence (decodes to 0). */
export const MULAW_SILENCE = 0xff;

const BIAS = 0x84;
const CLIP = 32635;

const DECODE_TABLE = (() => {
  const table = new Int16Array(256);
  for (let i = 0; i < 256; i++) {
    const u = ~i & 0xff;
    const exponent = (u >> 4) & 0x07;
    const mantissa = u & 0x0f;
    const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    table[i] = u & 0x80 ? -magnitude : magnitude;
  }
  return table;
})();

export function mulawDecodeSample(byte: number): number {
  return DECODE_TABLE[byte & 0xff] ?? 0;
}

export function mulawEncodeSample(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export function pcm16ToMulaw(samples: Int16Array | Float64Array): Uint8Array {
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = mulawEncodeSample(samples[i] ?? 0);
  return out;
}

export function mulawToPcm16(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = DECODE_TABLE[bytes[i] ?? MULAW_SILENCE] ?? 0;
  return out;
}

/** Root-mean-square level of μ-law audio on the 16-bit scale (0 for digital silence). */
export function mulawRms(bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (end <= start) return 0;
  let sum = 0;
  for (let i = start; i < end; i++) {
    const v = DECODE_TABLE[bytes[i] ?? MULAW_SILENCE] ?? 0;
    sum += v * v;
  }
  return Math.sqrt(sum / (end - start));
}

/** A μ-law WAV (format tag 7) from one buffer per channel; channels are interleaved, the shortest padded with silence. */
export function mulawWav(channels: readonly Uint8Array[]): Uint8Array {
  const n = channels.length;
  if (n === 0) throw new Error("mulawWav needs at least one channel");
  const frames = Math.max(...channels.map((c) => c.length));
  const dataBytes = frames * n;
  const out = new Uint8Array(58 + dataBytes + (dataBytes % 2));
  const view = new DataView(out.buffer);
  const ascii = (offset: number, s: string) => {
    for (let i = 0; i < s.length; i++) out[offset + i] = s.charCodeAt(i);
  };
  ascii(0, "RIFF");
  view.setUint32(4, out.length - 8, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 18, true);
  view.setUint16(20, 7, true); // WAVE_FORMAT_MULAW
  view.setUint16(22, n, true);
  view.setUint32(24, SAMPLE_RATE, true);
  view.setUint32(28, SAMPLE_RATE * n, true);
  view.setUint16(32, n, true);
  view.setUint16(34, 8, true);
  view.setUint16(36, 0, true);
  // Non-PCM formats carry a fact chunk with the per-channel sample count.
  ascii(38, "fact");
  view.setUint32(42, 4, true);
  view.setUint32(46, frames, true);
  ascii(50, "data");
  view.setUint32(54, dataBytes, true);
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < n; c++) out[58 + f * n + c] = channels[c]?.[f] ?? MULAW_SILENCE;
  }
  return out;
}

export interface PcmWav {
  sampleRate: number;
  samples: Int16Array;
}

/**
 * Reads a 16-bit PCM WAV (mono, or the first channel). Tolerates the placeholder sizes a streaming writer such as
 * `espeak-ng --stdout` puts in the header by clamping the data chunk to the bytes actually present.
 */
export function parsePcm16Wav(buf: Uint8Array): PcmWav {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const tag = (o: number) => String.fromCharCode(...buf.subarray(o, o + 4));
  if (buf.length < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("not a WAV file");
  let offset = 12;
  let sampleRate = 0;
  let channels = 1;
  let bits = 0;
  while (offset + 8 <= buf.length) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === "fmt ") {
      const format = view.getUint16(body, true);
      channels = view.getUint16(body + 2, true);
      sampleRate = view.getUint32(body + 4, true);
      bits = view.getUint16(body + 14, true);
      if (format !== 1 || bits !== 16)
        throw new Error(`unsupported WAV format ${format}/${bits}-bit (need 16-bit PCM)`);
    } else if (id === "data") {
      if (!sampleRate) throw new Error("WAV data before fmt chunk");
      const end = Math.min(buf.length, body + size);
      const frameBytes = 2 * channels;
      const count = Math.floor((end - body) / frameBytes);
      const samples = new Int16Array(count);
      for (let i = 0; i < count; i++) samples[i] = view.getInt16(body + i * frameBytes, true);
      return { sampleRate, samples };
    }
    offset = body + size + (size % 2);
  }
  throw new Error("WAV has no data chunk");
}

/** Band-limited resampling (Hann-windowed sinc), good enough that a speech recogniser hears the same words. */
export function resample(samples: Int16Array, fromRate: number, toRate: number): Float64Array {
  if (fromRate === toRate) return Float64Array.from(samples);
  const ratio = toRate / fromRate;
  const outLength = Math.floor(samples.length * ratio);
  const out = new Float64Array(outLength);
  // Cut off a little below the lower Nyquist so the narrow-band result does not alias.
  const cutoff = 0.95 * Math.min(1, ratio);
  const halfTaps = Math.ceil(12 / cutoff);
  for (let n = 0; n < outLength; n++) {
    const x = n / ratio;
    const center = Math.floor(x);
    let acc = 0;
    for (let k = center - halfTaps + 1; k <= center + halfTaps; k++) {
      if (k < 0 || k >= samples.length) continue;
      const d = x - k;
      const arg = Math.PI * cutoff * d;
      const sinc = d === 0 ? 1 : Math.sin(arg) / arg;
      const window = 0.5 + 0.5 * Math.cos((Math.PI * d) / halfTaps);
      acc += (samples[k] ?? 0) * cutoff * sinc * window;
    }
    out[n] = acc;
  }
  return out;
}
