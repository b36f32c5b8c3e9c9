// The call as a recorder on the caller's line hears it: what the caller said and the agent audio as played, one
// frame each per 20 ms tick on one timeline, saved as μ-law WAV (caller left, agent right).
import { writeFile } from "node:fs/promises";
import { mulawWav } from "./audio.ts";

/** Frames kept in order, joined on demand. */
class ByteSink {
  private chunks: Uint8Array[] = [];
  length = 0;
  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

export class CallRecording {
  private readonly caller = new ByteSink();
  private readonly agent = new ByteSink();

  /** Off: nothing is kept (long load runs would hold every frame). */
  constructor(private readonly on: boolean) {}

  said(frame: Uint8Array): void {
    if (this.on) this.caller.push(frame);
  }

  heard(frame: Uint8Array): void {
    if (this.on) this.agent.push(frame);
  }

  bytes(): { agent: Uint8Array; caller: Uint8Array } {
    return { agent: this.agent.bytes(), caller: this.caller.bytes() };
  }

  /** The agent as heard, or caller (left) and agent (right) together. */
  async save(file: string, channels: "agent" | "both"): Promise<void> {
    const { agent, caller } = this.bytes();
    await writeFile(file, mulawWav(channels === "agent" ? [agent] : [caller, agent]));
  }
}
