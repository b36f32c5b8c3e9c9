// Outbound pacer of one call: audio from TTS (bursty, faster than real time) goes out as exact 160-byte
// μ-law frames, one per 20 ms on the node's FrameClock, with marks placed at byte positions so the
// carrier reports when playback reaches them. Byte positions are absolute (counted since the call
// began), which is what lets barge-in work out what the caller actually heard.
import { MULAW_FRAME_BYTES, MULAW_SILENCE } from "../../../shared/audio/mulaw.ts";
import type { ClockClient } from "./frame-clock.ts";

export type SendStatus = "sent" | "backpressure" | "closed";

/** What the pacer needs from the socket; the server implements it over uWebSockets.js. */
export interface PacerLink {
  /**
   * Sends one frame plus any marks due after it, in one corked write. `frame` is only valid during the
   * call (the pacer reuses its buffer for the next frame): encode or copy it, do not keep it.
   */
  sendFrame(frame: Uint8Array, marksAfter: readonly string[]): SendStatus;
  sendMarks(names: readonly string[]): void;
  /** Unsent bytes queued in the socket. */
  bufferedAmount(): number;
}

export interface PacerOptions {
  link: PacerLink;
  /** Frame lateness against the schedule, for the histogram. */
  onLateness?: (ms: number) => void;
  /** `frame` is only valid during the call (its buffer is reused): read it, do not keep it. */
  onFrameSent?: (sentBytes: number, now: number, frame: Uint8Array) => void;
  /** The socket stayed over its buffer limit for `slowConsumerMs`: the peer cannot keep up. */
  onSlowConsumer?: () => void;
  onDeferred?: () => void;
  /** Called every tick (cheap checks such as the dead-air watchdog). */
  onTick?: (now: number) => void;
  /** Above this many unsent bytes in the socket, frames wait (the schedule still advances). */
  softBufferBytes?: number;
  slowConsumerMs?: number;
  /** Bound on queued audio: two minutes of speech; more is dropped (a runaway TTS cannot eat memory). */
  maxQueuedBytes?: number;
}

interface QueuedMark {
  at: number;
  name: string;
}

const NO_MARKS: readonly string[] = Object.freeze([]);

export class OutboundPacer implements ClockClient {
  readonly #opts: PacerOptions;
  #chunks: Uint8Array[] = [];
  #headOffset = 0;
  #queued = 0;
  /** Absolute bytes enqueued / sent since the call began. */
  #written = 0;
  #sent = 0;
  #marks: QueuedMark[] = [];
  #complete = false;
  #starvedTicks = 0;
  #overSince: number | undefined;
  #closed = false;
  #paused = false;
  /** Every outgoing frame is assembled here (the link encodes it at once; the buffer is reused). */
  readonly #scratch = new Uint8Array(MULAW_FRAME_BYTES);
  lastFrameAt = Number.NEGATIVE_INFINITY;
  framesSent = 0;
  droppedBytes = 0;

  constructor(opts: PacerOptions) {
    this.#opts = opts;
  }

  get writtenBytes(): number {
    return this.#written;
  }
  get sentBytes(): number {
    return this.#sent;
  }
  get queuedBytes(): number {
    return this.#queued;
  }
  /** The caller is (about to be) hearing the agent: audio is queued or left within the last frame. */
  isPlaying(now: number, graceMs = 60): boolean {
    return this.#queued > 0 || now - this.lastFrameAt < 20 + graceMs;
  }

  enqueue(audio: Uint8Array): number {
    if (this.#closed || audio.length === 0) return this.#written;
    const max = this.#opts.maxQueuedBytes ?? 8_000 * 120;
    if (this.#queued + audio.length > max) {
      this.droppedBytes += audio.length;
      return this.#written;
    }
    this.#chunks.push(audio);
    this.#queued += audio.length;
    this.#written += audio.length;
    this.#complete = false;
    return this.#written;
  }

  /** A mark at an absolute byte position (default: after everything queued so far). */
  mark(name: string, at = this.#written): void {
    if (this.#closed) return;
    if (at <= this.#sent) {
      this.#opts.link.sendMarks([name]);
      return;
    }
    let i = this.#marks.length;
    while (i > 0 && this.#marks[i - 1]!.at > at) i--;
    this.#marks.splice(i, 0, { at, name });
  }

  /** No more audio is coming for now: a short last frame may go out padded with silence. */
  endOfInput(): void {
    this.#complete = true;
  }

  /** Drops all queued audio; returns the marks that will now never be reached. */
  clear(): string[] {
    const dropped = this.#marks.map((m) => m.name);
    this.#chunks = [];
    this.#headOffset = 0;
    this.#queued = 0;
    this.#marks = [];
    // Positions stay absolute: what was queued and not sent simply never happened.
    this.#written = this.#sent;
    return dropped;
  }

  /** Holds the audio where it is (the first step of a two-step barge-in): nothing is sent, nothing dropped. */
  pause(): void {
    this.#paused = true;
  }

  /** Goes on from where `pause()` held it. */
  resume(): void {
    this.#paused = false;
  }

  get paused(): boolean {
    return this.#paused;
  }

  close(): void {
    this.#closed = true;
    this.clear();
  }

  onTick(dueAt: number, now: number): void {
    if (this.#closed) return;
    this.#opts.onTick?.(now);
    if (this.#paused) return;
    if (this.#queued === 0) {
      this.#flushMarks();
      return;
    }
    if (this.#queued < MULAW_FRAME_BYTES && !this.#complete && this.#starvedTicks++ < 3) return;
    const link = this.#opts.link;
    if (link.bufferedAmount() > (this.#opts.softBufferBytes ?? 32 * 1024)) {
      this.#opts.onDeferred?.();
      this.#overSince ??= now;
      if (now - this.#overSince > (this.#opts.slowConsumerMs ?? 5_000)) this.#opts.onSlowConsumer?.();
      return;
    }
    this.#overSince = undefined;
    this.#starvedTicks = 0;
    const frame = this.#take();
    let marks = NO_MARKS;
    if (this.#marks.length > 0 && this.#marks[0]!.at <= this.#sent) {
      const due: string[] = [];
      while (this.#marks.length > 0 && this.#marks[0]!.at <= this.#sent) due.push(this.#marks.shift()!.name);
      marks = due;
    }
    const status = link.sendFrame(frame, marks);
    if (status === "closed") return;
    this.lastFrameAt = now;
    this.framesSent += 1;
    this.#opts.onLateness?.(now - dueAt);
    this.#opts.onFrameSent?.(this.#sent, now, frame);
  }

  #flushMarks(): void {
    if (this.#marks.length === 0) return;
    const due: string[] = [];
    while (this.#marks.length > 0 && this.#marks[0]!.at <= this.#sent) due.push(this.#marks.shift()!.name);
    // Marks past the end of the audio (a clause whose bytes were dropped) go out once the queue is empty.
    if (this.#queued === 0) for (const m of this.#marks.splice(0)) due.push(m.name);
    if (due.length > 0) this.#opts.link.sendMarks(due);
  }

  #take(): Uint8Array {
    const frame = this.#scratch;
    const head = this.#chunks[0];
    if (head && head.length - this.#headOffset >= MULAW_FRAME_BYTES) {
      // The common case: the whole frame lies inside one chunk of TTS audio. Copied byte by byte rather than
      // sent as a subarray view: a view is an object per frame per call, the largest allocation on this path.
      const from = this.#headOffset;
      for (let k = 0; k < MULAW_FRAME_BYTES; k++) frame[k] = head[from + k]!;
      this.#headOffset += MULAW_FRAME_BYTES;
      if (this.#headOffset === head.length) {
        this.#chunks.shift();
        this.#headOffset = 0;
      }
      this.#queued -= MULAW_FRAME_BYTES;
      this.#sent += MULAW_FRAME_BYTES;
      return frame;
    }
    let filled = 0;
    while (filled < MULAW_FRAME_BYTES && this.#chunks.length > 0) {
      const chunk = this.#chunks[0]!;
      const n = Math.min(MULAW_FRAME_BYTES - filled, chunk.length - this.#headOffset);
      // A frame across two TTS chunks (most chunk boundaries): a byte loop, not a subarray view per boundary.
      const from = this.#headOffset;
      for (let k = 0; k < n; k++) frame[filled + k] = chunk[from + k]!;
      filled += n;
      this.#headOffset += n;
      if (this.#headOffset === chunk.length) {
        this.#chunks.shift();
        this.#headOffset = 0;
      }
    }
    if (filled < MULAW_FRAME_BYTES) frame.fill(MULAW_SILENCE, filled);
    this.#queued -= filled;
    this.#sent += filled;
    return frame;
  }
}
