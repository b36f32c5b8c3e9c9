// The microphone's AudioWorklet: takes the context's rate (44.1 or 48 kHz), resamples to 16 kHz by linear
// interpolation that carries its position across render quanta, and posts 20 ms PCM16 little-endian chunks
// (320 samples, 640 bytes: the media node's /v1/web frame) to the main thread, which sends them on the socket.
// Runs in the AudioWorkletGlobalScope, whose globals the DOM typings do not describe.
declare const sampleRate: number;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}
declare function registerProcessor(name: string, ctor: new () => AudioWorkletProcessor): void;

const TARGET_RATE = 16_000;
const CHUNK_SAMPLES = 320;

class Pcm16Capture extends AudioWorkletProcessor {
  /** Input samples per output sample. */
  readonly #step = sampleRate / TARGET_RATE;
  /** Position of the next output sample, in input samples, relative to the start of the current block. */
  #pos = 0;
  /** The last input sample of the previous block (interpolation reaches one sample back). */
  #prev = 0;
  #out = new Int16Array(CHUNK_SAMPLES);
  #fill = 0;

  process(inputs: Float32Array[][]): boolean {
    const input = inputs[0]?.[0];
    if (!input) return true;
    const at = (i: number) => (i < 0 ? this.#prev : (input[i] ?? 0));
    // Interpolating between i and i+1 needs i+1 in this block; a position in [-1, 0) uses the previous block's last.
    while (this.#pos < input.length - 1) {
      const i = Math.floor(this.#pos);
      const frac = this.#pos - i;
      const v = at(i) + (at(i + 1) - at(i)) * frac;
      const clamped = Math.max(-1, Math.min(1, v));
      this.#out[this.#fill++] = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
      if (this.#fill === CHUNK_SAMPLES) {
        const chunk = this.#out;
        this.port.postMessage(chunk.buffer, [chunk.buffer]);
        this.#out = new Int16Array(CHUNK_SAMPLES);
        this.#fill = 0;
      }
      this.#pos += this.#step;
    }
    this.#pos -= input.length;
    this.#prev = input[input.length - 1] ?? 0;
    return true;
  }
}

registerProcessor("pcm16-capture", Pcm16Capture);
