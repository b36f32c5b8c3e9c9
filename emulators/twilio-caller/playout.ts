// The caller's two clocks of audio. Frames go out on a drift-free 20 ms clock: each is due at a fixed multiple of
// 20 ms after start, so timer jitter never accumulates, and after an event-loop stall the overdue frames go out at
// once, as a carrier's buffered RTP would. Agent audio is played out of a buffer at that same pace, which is what
// decides when a mark has been "heard" and what a `clear` throws away. The caller's own lines wait in a queue and go
// out a frame at a time on the same clock.
import { FRAME_BYTES, FRAME_MS } from "./audio.ts";
import type { Turn } from "./turns.ts";
import type { MarkRecord } from "./types.ts";

export class FrameClock {
  /** Frames that went out more than one frame period after they were due. */
  lateFrames = 0;
  maxLatenessMs = 0;
  private nextDue = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly now: () => number,
    /** One frame period: called once per frame due, several times in a row after a stall. */
    private readonly tick: () => void,
    /** After the frames due have gone out. */
    private readonly afterTicks: () => void,
  ) {}

  start(): void {
    this.running = true;
    this.nextDue = FRAME_MS;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (!this.running) return;
    const delay = Math.max(0, this.nextDue - this.now());
    this.timer = setTimeout(() => this.onTimer(), delay);
  }

  private onTimer(): void {
    this.timer = null;
    while (this.running && this.nextDue <= this.now()) {
      const lateness = this.now() - this.nextDue;
      if (lateness > FRAME_MS) this.lateFrames++;
      if (lateness > this.maxLatenessMs) this.maxLatenessMs = lateness;
      this.tick();
      this.nextDue += FRAME_MS;
    }
    this.afterTicks();
    this.schedule();
  }
}

interface PendingMark {
  record: MarkRecord;
  /** Total bytes enqueued when the mark arrived: it is reached once that many bytes have played. */
  at: number;
}

/** Agent audio waiting to be heard, and the marks that wait for it. */
export class PlayoutBuffer {
  private queue: Uint8Array[] = [];
  private head = 0;
  private enqueuedTotal = 0;
  private playedTotal = 0;
  private pendingMarks: PendingMark[] = [];

  get queuedBytes(): number {
    return this.enqueuedTotal - this.playedTotal;
  }

  enqueue(audio: Uint8Array): void {
    this.queue.push(audio);
    this.enqueuedTotal += audio.length;
  }

  /** A mark is reached once everything enqueued before it has played. */
  mark(record: MarkRecord): void {
    this.pendingMarks.push({ at: this.enqueuedTotal, record });
  }

  /** Removes and returns the marks whose audio has all been played, in order. */
  takePlayedMarks(): MarkRecord[] {
    const played: MarkRecord[] = [];
    while (this.pendingMarks.length > 0 && this.pendingMarks[0]!.at <= this.playedTotal) {
      played.push(this.pendingMarks.shift()!.record);
    }
    return played;
  }

  /** Drops the queued audio; returns the pending marks, which a `clear` echoes at once. */
  clear(): MarkRecord[] {
    this.queue = [];
    this.head = 0;
    this.enqueuedTotal = this.playedTotal;
    return this.pendingMarks.splice(0).map((m) => m.record);
  }

  /** Plays up to one frame into `frame` (left as it is past the audio); returns the bytes played. */
  playInto(frame: Uint8Array): number {
    let n = 0;
    while (n < FRAME_BYTES && this.queue.length > 0) {
      const head = this.queue[0]!;
      const take = Math.min(FRAME_BYTES - n, head.length - this.head);
      frame.set(head.subarray(this.head, this.head + take), n);
      n += take;
      this.head += take;
      if (this.head >= head.length) {
        this.queue.shift();
        this.head = 0;
      }
    }
    this.playedTotal += n;
    return n;
  }
}

interface PendingSpeech {
  audio: Uint8Array;
  offset: number;
  turn: Turn | null;
  done: () => void;
}

/** The caller's lines waiting to be sent, one after another, a frame at a time. */
export class SpeechQueue {
  private pending: PendingSpeech[] = [];

  /** Queues audio; resolves when its last frame has been taken. */
  add(audio: Uint8Array, turn: Turn | null): Promise<void> {
    return new Promise((done) => this.pending.push({ audio, offset: 0, turn, done }));
  }

  /** Copies the next frame of queued speech into `frame` (silence where there is none) and reports it for its turn. */
  fill(frame: Uint8Array, sent: (turn: Turn, bytes: number, first: boolean, last: boolean) => void): void {
    const current = this.pending[0];
    if (!current) return;
    const first = current.offset === 0;
    const n = Math.min(FRAME_BYTES, current.audio.length - current.offset);
    frame.set(current.audio.subarray(current.offset, current.offset + n));
    current.offset += n;
    const last = current.offset >= current.audio.length;
    if (current.turn) sent(current.turn, n, first, last);
    if (last) {
      this.pending.shift();
      current.done();
    }
  }

  /** The call ended: every line still waiting counts as said. */
  drop(): void {
    for (const s of this.pending.splice(0)) s.done();
  }
}
