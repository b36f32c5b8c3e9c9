// Live listen streams (Nova and Flux) by tag, and the faults a test can put on them: a dropped connection, or a
// stalled recogniser that keeps taking audio and answers nothing.
import { z } from "zod";

/** What a fault needs of a live stream. */
export interface StreamHandle {
  readonly tags: readonly string[];
  /** The connection is lost: no close frame (the client sees 1006). */
  drop(): void;
  /** While stalled, audio is accepted and nothing is sent back; results of that time are never sent. */
  stall(on: boolean): void;
}

export const DeepgramFaultSchema = z
  .object({
    kind: z.enum(["drop", "stall"]),
    /** Only streams opened with this `tag`; without it, every listen stream. */
    tag: z.string().min(1).max(128).optional(),
  })
  .strict();
export type DeepgramFault = z.infer<typeof DeepgramFaultSchema>;

export class StreamRegistry {
  private readonly live = new Set<StreamHandle>();
  /** Stall faults in force: they hold streams open now and streams that open later, until cleared. */
  private stalls: DeepgramFault[] = [];

  add(stream: StreamHandle): void {
    this.live.add(stream);
    if (this.stalls.some((f) => matches(f, stream))) stream.stall(true);
  }

  remove(stream: StreamHandle): void {
    this.live.delete(stream);
  }

  /** Applies a fault; returns how many open streams it hit. */
  inject(fault: DeepgramFault): number {
    const hit = [...this.live].filter((s) => matches(fault, s));
    if (fault.kind === "drop") {
      for (const s of hit) {
        this.live.delete(s);
        s.drop();
      }
    } else {
      this.stalls.push(fault);
      for (const s of hit) s.stall(true);
    }
    return hit.length;
  }

  /** Ends every stall; stalled streams answer again from the audio that follows. */
  clear(): void {
    this.stalls = [];
    for (const s of this.live) s.stall(false);
  }

  get faults(): readonly DeepgramFault[] {
    return this.stalls;
  }
}

function matches(fault: DeepgramFault, stream: StreamHandle): boolean {
  return fault.tag === undefined || stream.tags.includes(fault.tag);
}
