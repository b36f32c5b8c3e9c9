// A tiny WebSocket server playing the media node's role, for the simulated caller's tests: it records what the
// caller sends (with arrival times) and lets each test script what the "agent" sends back.
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { type WebSocket, WebSocketServer } from "ws";

export interface Received {
  at: number;
  msg: Record<string, unknown> & { event: string };
}

export class MediaConnection {
  readonly received: Received[] = [];
  readonly openedAt = performance.now();
  closeCode: number | null = null;
  private listeners: (() => void)[] = [];

  constructor(
    readonly ws: WebSocket,
    readonly request: IncomingMessage,
  ) {
    ws.on("message", (data) => {
      this.received.push({ at: performance.now(), msg: JSON.parse(data.toString()) });
      this.notify();
    });
    ws.on("close", (code) => {
      this.closeCode = code;
      this.notify();
    });
  }

  private notify(): void {
    for (const l of this.listeners.splice(0)) l();
  }

  events(name: string): Received[] {
    return this.received.filter((r) => r.msg.event === name);
  }

  /** The streamSid from the caller's `start`. */
  get streamSid(): string {
    const start = this.events("start")[0];
    if (!start) throw new Error("no start received yet");
    return String(start.msg.streamSid);
  }

  send(message: object): void {
    this.ws.send(JSON.stringify(message));
  }

  sendMedia(audio: Uint8Array): void {
    this.send({ event: "media", streamSid: this.streamSid, media: { payload: Buffer.from(audio).toString("base64") } });
  }

  sendMark(name: string): void {
    this.send({ event: "mark", streamSid: this.streamSid, mark: { name } });
  }

  sendClear(): void {
    this.send({ event: "clear", streamSid: this.streamSid });
  }

  /** Resolves with the first received message matching `pred` (already received or future). */
  async waitFor(pred: (r: Received) => boolean, timeoutMs = 10_000): Promise<Received> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const hit = this.received.find(pred);
      if (hit) return hit;
      if (this.closeCode !== null) throw new Error("connection closed while waiting");
      const left = deadline - performance.now();
      if (left <= 0) throw new Error("timed out waiting for a message");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.listeners.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async waitForClose(timeoutMs = 5_000): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (this.closeCode === null) {
      if (performance.now() > deadline) throw new Error("timed out waiting for close");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.listeners.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.closeCode;
  }
}

export interface FakeMediaNode {
  url: string;
  port: number;
  /** Resolves with the next (or an already waiting) connection. */
  nextConnection(): Promise<MediaConnection>;
  close(): Promise<void>;
}

export async function startFakeMediaNode(onConnection?: (conn: MediaConnection) => void): Promise<FakeMediaNode> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  const port = (wss.address() as AddressInfo).port;
  const ready: MediaConnection[] = [];
  const waiting: ((c: MediaConnection) => void)[] = [];
  wss.on("connection", (ws, req) => {
    const conn = new MediaConnection(ws, req);
    onConnection?.(conn);
    const w = waiting.shift();
    if (w) w(conn);
    else ready.push(conn);
  });
  return {
    url: `ws://127.0.0.1:${port}/media`,
    port,
    nextConnection: () => {
      const c = ready.shift();
      return c ? Promise.resolve(c) : new Promise((resolve) => waiting.push(resolve));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** A 440 Hz tone as 8 kHz μ-law: clearly "speech" to an energy detector. */
export function tone(ms: number, amplitude = 8000): Uint8Array {
  const n = (ms * 8000) / 1000;
  const pcm = new Float64Array(n);
  for (let i = 0; i < n; i++) pcm[i] = amplitude * Math.sin((2 * Math.PI * 440 * i) / 8000);
  return encode(pcm);
}

export function silence(ms: number): Uint8Array {
  return new Uint8Array((ms * 8000) / 1000).fill(0xff);
}

// Independent μ-law encoder (G.711 reference shape), so the test does not lean on the code under test.
function encode(pcm: Float64Array): Uint8Array {
  const out = new Uint8Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) {
    let s = Math.round(pcm[i] ?? 0);
    const sign = s < 0 ? 0x80 : 0;
    if (sign) s = -s;
    s = Math.min(s, 32635) + 0x84;
    let exp = 7;
    while (exp > 0 && !(s & (0x80 << exp))) exp--;
    out[i] = ~(sign | (exp << 4) | ((s >> (exp + 3)) & 0x0f)) & 0xff;
  }
  return out;
}

/** True when a μ-law frame carries more than a whisper of energy. */
export function isVoiced(frame: Uint8Array): boolean {
  let sum = 0;
  for (const b of frame) {
    const u = ~b & 0xff;
    const mag = ((((u & 0x0f) << 3) + 0x84) << ((u >> 4) & 7)) - 0x84;
    sum += mag * mag;
  }
  return frame.length > 0 && Math.sqrt(sum / frame.length) > 200;
}

export function payloadOf(r: Received): Uint8Array {
  const media = r.msg.media as { payload: string };
  return new Uint8Array(Buffer.from(media.payload, "base64"));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
