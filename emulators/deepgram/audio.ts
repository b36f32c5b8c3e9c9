// Self-contained G.711 / PCM codecs, WAV parsing and resampling for the Deepgram emulator.
// Kept local (not shared/audio) so the emulator cannot inherit a codec bug from the code it tests.

export type RawEncoding = "linear16" | "linear32" | "mulaw" | "alaw";

const MULAW_BIAS = 0x84;
const MULAW_CLIP = 32635;

const MULAW_TO_PCM = new Int16Array(256);
const ALAW_TO_PCM = new Int16Array(256);
for (let i = 0; i < 256; i++) {
  const u = ~i & 0xff;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + MULAW_BIAS) << exponent) - MULAW_BIAS;
  MULAW_TO_PCM[i] = u & 0x80 ? -magnitude : magnitude;

  const a = i ^ 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  ALAW_TO_PCM[i] = a & 0x80 ? t : -t;
}

export function mulawByteToPcm(byte: number): number {
  return MULAW_TO_PCM[byte & 0xff] ?? 0;
}

export function pcmToMulawByte(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  if (s > MULAW_CLIP) s = MULAW_CLIP;
  s += MULAW_BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

const ALAW_SEG_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

export function pcmToAlawByte(sample: number): number {
  let pcm = Math.max(-32768, Math.min(32767, Math.round(sample))) >> 3;
  let mask: number;
  if (pcm >= 0) mask = 0xd5;
  else {
    mask = 0x55;
    pcm = -pcm - 1;
  }
  let seg = 0;
  while (seg < 8 && pcm > (ALAW_SEG_END[seg] ?? 0)) seg++;
  if (seg >= 8) return 0x7f ^ mask;
  let aval = seg << 4;
  aval |= seg < 2 ? (pcm >> 1) & 0x0f : (pcm >> seg) & 0x0f;
  return aval ^ mask;
}

export function bytesPerSample(encoding: RawEncoding): number {
  switch (encoding) {
    case "linear16":
      return 2;
    case "linear32":
      return 4;
    default:
      return 1;
  }
}

/**
 * Streaming decoder: raw bytes in the declared encoding → mono 16-bit PCM. Bytes that do not yet form a
 * whole multi-channel sample frame are carried into the next call, as audio may be split anywhere.
 */
export class PcmDecoder {
  private carry: Buffer = Buffer.alloc(0);
  private readonly frameBytes: number;

  constructor(
    private readonly encoding: RawEncoding,
    private readonly channels: number,
  ) {
    this.frameBytes = bytesPerSample(encoding) * channels;
  }

  decode(chunk: Uint8Array): Int16Array {
    const buf =
      this.carry.length > 0
        ? Buffer.concat([this.carry, chunk])
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const frames = Math.floor(buf.length / this.frameBytes);
    const used = frames * this.frameBytes;
    this.carry = used < buf.length ? Buffer.from(buf.subarray(used)) : Buffer.alloc(0);
    const out = new Int16Array(frames);
    const bps = bytesPerSample(this.encoding);
    const ch = this.channels;
    for (let f = 0; f < frames; f++) {
      let acc = 0;
      for (let c = 0; c < ch; c++) {
        const off = (f * ch + c) * bps;
        acc += this.sampleAt(buf, off);
      }
      out[f] = ch === 1 ? acc : Math.round(acc / ch);
    }
    return out;
  }

  private sampleAt(buf: Buffer, off: number): number {
    switch (this.encoding) {
      case "linear16":
        return buf.readInt16LE(off);
      case "linear32":
        return buf.readInt32LE(off) >> 16;
      case "mulaw":
        return MULAW_TO_PCM[buf[off] ?? 0xff] ?? 0;
      case "alaw":
        return ALAW_TO_PCM[buf[off] ?? 0xd5] ?? 0;
    }
  }
}

export type OutputEncoding = "linear16" | "mulaw" | "alaw";

export function encodePcm(pcm: Int16Array, encoding: OutputEncoding): Buffer {
  if (encoding === "linear16") {
    const out = Buffer.alloc(pcm.length * 2);
    for (let i = 0; i < pcm.length; i++) out.writeInt16LE(pcm[i] ?? 0, i * 2);
    return out;
  }
  const out = Buffer.alloc(pcm.length);
  const enc = encoding === "mulaw" ? pcmToMulawByte : pcmToAlawByte;
  for (let i = 0; i < pcm.length; i++) out[i] = enc(pcm[i] ?? 0);
  return out;
}

export interface WavInfo {
  /** 1 = PCM, 6 = A-law, 7 = μ-law (WAVE_FORMAT_* codes). */
  format: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  /** Byte offset where the sample data starts. */
  dataOffset: number;
}

/**
 * Parses a RIFF/WAVE header. Returns null when the buffer is not WAV, "incomplete" when more bytes are needed.
 * The data chunk size is ignored: streaming writers (espeak-ng --stdout) put a placeholder there.
 */
export function parseWavHeader(buf: Buffer): WavInfo | null | "incomplete" {
  if (buf.length < 12) return buf.length >= 4 && buf.toString("latin1", 0, 4) !== "RIFF" ? null : "incomplete";
  if (buf.toString("latin1", 0, 4) !== "RIFF" || buf.toString("latin1", 8, 12) !== "WAVE") return null;
  let off = 12;
  let fmt: Omit<WavInfo, "dataOffset"> | null = null;
  while (off + 8 <= buf.length) {
    const id = buf.toString("latin1", off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === "data") {
      if (!fmt) return null;
      return { ...fmt, dataOffset: off + 8 };
    }
    if (id === "fmt ") {
      if (off + 8 + 16 > buf.length) return "incomplete";
      fmt = {
        format: buf.readUInt16LE(off + 8),
        channels: buf.readUInt16LE(off + 10),
        sampleRate: buf.readUInt32LE(off + 12),
        bitsPerSample: buf.readUInt16LE(off + 22),
      };
    }
    off += 8 + size + (size % 2);
  }
  return "incomplete";
}

/** Maps a WAV format to the raw encoding the decoder understands, or null if the emulator cannot decode it. */
export function wavEncoding(info: WavInfo): RawEncoding | null {
  if (info.format === 1 && info.bitsPerSample === 16) return "linear16";
  if (info.format === 1 && info.bitsPerSample === 32) return "linear32";
  if (info.format === 7 && info.bitsPerSample === 8) return "mulaw";
  if (info.format === 6 && info.bitsPerSample === 8) return "alaw";
  return null;
}

export function wavHeader(dataBytes: number, sampleRate: number, encoding: OutputEncoding): Buffer {
  const bits = encoding === "linear16" ? 16 : 8;
  const format = encoding === "linear16" ? 1 : encoding === "alaw" ? 6 : 7;
  const h = Buffer.alloc(44);
  h.write("RIFF", 0, "latin1");
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write("WAVE", 8, "latin1");
  h.write("fmt ", 12, "latin1");
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(format, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE((sampleRate * bits) / 8, 28);
  h.writeUInt16LE(bits / 8, 32);
  h.writeUInt16LE(bits, 34);
  h.write("data", 36, "latin1");
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** Windowed-sinc low-pass; cutoff is a fraction of the sample rate (0.5 = Nyquist). */
function lowPass(input: Float32Array, cutoff: number, taps = 31): Float32Array {
  const half = (taps - 1) / 2;
  const kernel = new Float32Array(taps);
  let sum = 0;
  for (let i = 0; i < taps; i++) {
    const n = i - half;
    const sinc = n === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * n) / (Math.PI * n);
    const window = 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (taps - 1));
    kernel[i] = sinc * window;
    sum += sinc * window;
  }
  for (let i = 0; i < taps; i++) kernel[i] = (kernel[i] ?? 0) / sum;
  const out = new Float32Array(input.length);
  for (let i = 0; i < input.length; i++) {
    let acc = 0;
    for (let k = 0; k < taps; k++) {
      const j = i + k - half;
      if (j >= 0 && j < input.length) acc += (input[j] ?? 0) * (kernel[k] ?? 0);
    }
    out[i] = acc;
  }
  return out;
}

/** Resamples mono PCM; anti-aliases before downsampling so 22.05 kHz speech stays clean at 8 kHz. */
export function resample(input: Int16Array, from: number, to: number): Int16Array {
  if (from === to) return input;
  let src: Float32Array = Float32Array.from(input);
  if (to < from) src = lowPass(src, (0.45 * to) / from);
  const outLen = Math.floor((input.length * to) / from);
  const out = new Int16Array(outLen);
  const step = from / to;
  for (let i = 0; i < outLen; i++) {
    const pos = i * step;
    const i0 = Math.floor(pos);
    const frac = pos - i0;
    const a = src[i0] ?? 0;
    const b = src[i0 + 1] ?? a;
    out[i] = Math.max(-32768, Math.min(32767, Math.round(a + (b - a) * frac)));
  }
  return out;
}
