// A minimal Twilio Media Streams peer for pipeline tests with fakes: it sends what Twilio sends and plays
// what it receives the way Twilio does (160 bytes per 20 ms, marks echoed when playback reaches them,
// `clear` drops the queue and echoes pending marks at once). Tests drive speech through FakeStt, so the
// audio it sends is just silence or a loud tone (for the VAD).
import WebSocket from "ws";

export interface Received {
  at: number;
  event: string;
  name?: string;
  payload?: string;
}

const SILENCE = new Uint8Array(160).fill(0xff);

/** A 300 Hz tone at about -10 dBFS as μ-law (peak `amplitude` on the 16-bit scale): what the VAD must call speech. */
export function loudFrame(amplitude = 10_000): Uint8Array {
  const out = new Uint8Array(160);
  for (let i = 0; i < 160; i++) {
    const s = Math.round(amplitude * Math.sin((2 * Math.PI * 300 * i) / 8000));
    const sign = s < 0 ? 0x80 : 0;
    let m = Math.min(Math.abs(s), 32_635) + 0x84;
    let e = 7;
    for (let mask = 0x4000; (m & mask) === 0 && e > 0; mask >>= 1) e--;
    const mant = (m >> (e + 3)) & 0x0f;
    m = ~(sign | (e << 4) | mant) & 0xff;
    out[i] = m;
  }
  return out;
}

const LOUD = loudFrame();

export class TwilioTestClient {
  readonly received: Received[] = [];
  readonly streamSid = `MZ${Math.random().toString(16).slice(2).padEnd(32, "0").slice(0, 32)}`;
  closeCode: number | undefined;
  closeReason = "";
  /** Audio bytes received and played. */
  receivedBytes = 0;
  playedBytes = 0;
  readonly echoed: { name: string; at: number }[] = [];
  #queue: Uint8Array[] = [];
  #queued = 0;
  #pendingMarks: { name: string; at: number }[] = [];
  #enqueued = 0;
  #timer: NodeJS.Timeout | undefined;
  #seq = 0;
  #chunk = 0;
  #talking = false;
  #voice: Uint8Array = LOUD;
  #closed: Promise<void>;
  echoMarks = true;
  /** When the last loud (speech) frame was sent: the caller stopped talking 20 ms of audio later. */
  lastLoudFrameAt = Number.NEGATIVE_INFINITY;

  private constructor(readonly ws: WebSocket) {
    this.#closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        if (this.#timer) clearInterval(this.#timer);
        resolve();
      });
    });
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      const msg = JSON.parse(data.toString());
      const at = performance.now();
      this.received.push({ at, event: msg.event, name: msg.mark?.name, payload: msg.media?.payload });
      if (msg.event === "media") {
        const bytes = Buffer.from(msg.media.payload, "base64");
        this.#queue.push(bytes);
        this.#queued += bytes.length;
        this.#enqueued += bytes.length;
        this.receivedBytes += bytes.length;
      } else if (msg.event === "mark") {
        this.#pendingMarks.push({ name: msg.mark.name, at: this.#enqueued });
        this.#echoReached();
      } else if (msg.event === "clear") {
        this.#queue = [];
        this.#enqueued -= this.#queued;
        this.#queued = 0;
        for (const m of this.#pendingMarks.splice(0)) this.#echo(m.name);
      }
    });
  }

  static async connect(url: string): Promise<TwilioTestClient> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    return new TwilioTestClient(ws);
  }

  send(message: unknown): void {
    if (this.ws.readyState === WebSocket.OPEN)
      this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** `connected` then `start` with the token as a custom parameter; then media every 20 ms. */
  start(token: string | undefined, extra: Record<string, string> = {}): void {
    this.send({ event: "connected", protocol: "Call", version: "1.0.0" });
    this.send({
      event: "start",
      sequenceNumber: String(++this.#seq),
      start: {
        accountSid: "AC00000000000000000000000000000000",
        streamSid: this.streamSid,
        callSid: "CA00000000000000000000000000000000",
        tracks: ["inbound"],
        customParameters: { ...(token === undefined ? {} : { token }), ...extra },
        mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
      },
      streamSid: this.streamSid,
    });
    this.#timer = setInterval(() => this.#tick(), 20);
  }

  sendMedia(frame: Uint8Array): void {
    this.#chunk += 1;
    this.send({
      event: "media",
      sequenceNumber: String(++this.#seq),
      media: {
        track: "inbound",
        chunk: String(this.#chunk),
        timestamp: String(this.#chunk * 20),
        payload: Buffer.from(frame).toString("base64"),
      },
      streamSid: this.streamSid,
    });
  }

  /** While talking, frames are a tone (loud unless a peak `amplitude` is given); otherwise silence. */
  talk(on: boolean, amplitude = 10_000): void {
    this.#talking = on;
    this.#voice = amplitude === 10_000 ? LOUD : loudFrame(amplitude);
  }

  #tick(): void {
    this.sendMedia(this.#talking ? this.#voice : SILENCE);
    if (this.#talking) this.lastLoudFrameAt = performance.now();
    // Playout: one frame per 20 ms.
    let need = 160;
    while (need > 0 && this.#queue.length > 0) {
      const head = this.#queue[0]!;
      if (head.length <= need) {
        need -= head.length;
        this.#queued -= head.length;
        this.playedBytes += head.length;
        this.#queue.shift();
      } else {
        this.#queue[0] = head.subarray(need);
        this.#queued -= need;
        this.playedBytes += need;
        need = 0;
      }
    }
    this.#echoReached();
  }

  #echoReached(): void {
    const played = this.#enqueued - this.#queued;
    while (this.#pendingMarks.length > 0 && this.#pendingMarks[0]!.at <= played)
      this.#echo(this.#pendingMarks.shift()!.name);
  }

  #echo(name: string): void {
    this.echoed.push({ name, at: performance.now() });
    if (this.echoMarks)
      this.send({ event: "mark", sequenceNumber: String(++this.#seq), streamSid: this.streamSid, mark: { name } });
  }

  events(event: string): Received[] {
    return this.received.filter((r) => r.event === event);
  }

  hangUp(): Promise<void> {
    this.send({ event: "stop", sequenceNumber: String(++this.#seq), stop: {}, streamSid: this.streamSid });
    this.ws.close(1000);
    return this.#closed;
  }

  closed(): Promise<void> {
    return this.#closed;
  }

  terminate(): void {
    this.ws.terminate();
  }
}
