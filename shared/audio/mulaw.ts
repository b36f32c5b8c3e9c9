/**
 * G.711 μ-law, the telephony codec on Twilio and Telnyx media streams (8 kHz, 8 bits a sample),
 * plus the small PCM helpers the transports need around it.
 */

/** 20 ms at 8 kHz: the frame size telephony media streams send and expect. */
export const MULAW_FRAME_BYTES = 160;
export const MULAW_SAMPLE_RATE = 8_000;
/** The code for a zero sample; what a silent caller sends. */
export const MULAW_SILENCE = 0xff;

const BIAS = 0x84;
// Largest magnitude that still fits the top segment once the bias is added.
const CLIP = 32_635;

const DECODE = new Int16Array(256);
for (let code = 0; code < 256; code++) {
  const inverted = ~code & 0xff;
  const exponent = (inverted >> 4) & 0x07;
  const mantissa = inverted & 0x0f;
  const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  DECODE[code] = inverted & 0x80 ? -magnitude : magnitude;
}

function encodeSample(sample: number): number {
  const sign = sample < 0 ? 0x80 : 0;
  const magnitude = Math.min(Math.abs(sample), CLIP) + BIAS;
  // Segment = position of the highest set bit above bit 7 (magnitude + bias is at least 2^7).
  const exponent = 31 - Math.clz32(magnitude) - 7;
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

// One lookup per sample on the hot path (every 20 ms frame of every call); 64 KiB once per process.
const ENCODE = new Uint8Array(65_536);
for (let sample = -32_768; sample < 32_768; sample++) ENCODE[sample & 0xffff] = encodeSample(sample);

export function mulawToPcm16(mulaw: Uint8Array): Int16Array {
  const pcm = new Int16Array(mulaw.length);
  for (let i = 0; i < mulaw.length; i++) pcm[i] = DECODE[mulaw[i]!]!;
  return pcm;
}

export function pcm16ToMulaw(pcm: Int16Array): Uint8Array {
  const mulaw = new Uint8Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) mulaw[i] = ENCODE[pcm[i]! & 0xffff]!;
  return mulaw;
}

/**
 * Sample-rate conversion for speech between 8, 16, 24 and 48 kHz. Upsampling interpolates
 * linearly; downsampling averages the input span each output sample covers, a crude low-pass
 * that keeps energy above the new Nyquist rate from folding back as loud aliases.
 * Each call stands alone: chunk boundaries are not smoothed, which is inaudible at 20 ms frames.
 */
export function resamplePcm16(samples: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (!(fromRate > 0 && toRate > 0)) throw new RangeError("Sample rates must be positive");
  if (fromRate === toRate) return samples.slice();
  const outLength = Math.round((samples.length * toRate) / fromRate);
  const out = new Int16Array(outLength);
  const step = fromRate / toRate;
  if (samples.length === 0) return out;
  if (toRate > fromRate) {
    const last = samples.length - 1;
    for (let i = 0; i < outLength; i++) {
      const at = i * step;
      const left = Math.min(Math.floor(at), last);
      const right = Math.min(left + 1, last);
      const frac = at - left;
      out[i] = Math.round(samples[left]! + (samples[right]! - samples[left]!) * frac);
    }
    return out;
  }
  for (let i = 0; i < outLength; i++) {
    const start = i * step;
    const end = Math.min(start + step, samples.length);
    // Weighted box average over [start, end), counting partly covered input samples by their share.
    let sum = 0;
    let weight = 0;
    for (let j = Math.floor(start); j < end; j++) {
      const share = Math.min(j + 1, end) - Math.max(j, start);
      sum += samples[j]! * share;
      weight += share;
    }
    out[i] = weight > 0 ? Math.round(sum / weight) : 0;
  }
  return out;
}

/** RMS level relative to full scale (a full-scale square wave is 0 dBFS); -Infinity for silence. */
export function rmsDbfs(pcm: Int16Array): number {
  if (pcm.length === 0) return Number.NEGATIVE_INFINITY;
  let sumSquares = 0;
  for (const sample of pcm) sumSquares += sample * sample;
  const rms = Math.sqrt(sumSquares / pcm.length);
  return rms === 0 ? Number.NEGATIVE_INFINITY : 20 * Math.log10(rms / 32_768);
}
