// Streaming TTS (/v1/speak WebSocket): text buffered until Flush, audio streamed in paced chunks, Clear stops it.
import { performance } from "node:perf_hooks";
import type { WebSocket } from "ws";
import { z } from "zod";
import { modelUuid } from "./listen.ts";
import type { SpeakConfig } from "./params.ts";
import type { Synthesizer } from "./synth.ts";

export const SPEAK_TEXT_LIMIT = 2000;
const FLUSH_LIMIT = 20;
const FLUSH_WINDOW_MS = 60_000;
const CHUNK_MS = 100;

const ClientMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("Speak"), text: z.string() }),
  z.object({ type: z.literal("Flush") }),
  z.object({ type: z.literal("Clear") }),
  z.object({ type: z.literal("Close") }),
]);

export interface SpeakDeps {
  requestId: string;
  synth: Synthesizer;
  ttsFirstByteMs: number;
  /** Audio seconds sent per wall-clock second; 0 or Infinity sends each flush's audio at once. */
  realtimeFactor: number;
}

interface Job {
  sequenceId: number;
  text: string;
  flushedAt: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

export class SpeakSession {
  private text = "";
  private nextSequenceId = 0;
  private readonly jobs: Job[] = [];
  private running = false;
  /** Bumped by Clear: work started under an older generation stops sending. */
  private generation = 0;
  private readonly flushTimes: number[] = [];
  private closed = false;
  private readonly bytesPerChunk: number;

  constructor(
    private readonly ws: WebSocket,
    private readonly config: SpeakConfig,
    private readonly deps: SpeakDeps,
  ) {
    const bytesPerSample = config.encoding === "linear16" ? 2 : 1;
    this.bytesPerChunk = Math.round((config.sampleRate * bytesPerSample * CHUNK_MS) / 1000);
    this.sendJson({
      type: "Metadata",
      request_id: deps.requestId,
      model_name: config.model,
      model_version: "2025-04-07.0",
      model_uuid: modelUuid(config.model),
      additional_model_uuids: [],
    });
    ws.on("message", (data, isBinary) => {
      if (isBinary) {
        this.warn(
          "UNSUPPORTED_MESSAGE",
          "Binary messages are not accepted; send Speak, Flush, Clear or Close as JSON text.",
        );
        return;
      }
      try {
        const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
        this.onText(buf.toString("utf8"));
      } catch (err) {
        // A bug here must cost one stream, not the process serving every other stream.
        console.error("deepgram emulator: speak stream failed", err);
        this.stop();
        if (this.ws.readyState === this.ws.OPEN) this.ws.close(1011, "NET-0000");
      }
    });
    ws.on("close", () => this.stop());
    ws.on("error", () => this.stop());
  }

  private onText(raw: string): void {
    if (this.closed) return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      this.warn("INVALID_JSON", "Message is not valid JSON.");
      return;
    }
    const parsed = ClientMessage.safeParse(json);
    if (!parsed.success) {
      const type = typeof json === "object" && json !== null && "type" in json ? String(json.type) : "(none)";
      this.warn("UNKNOWN_MESSAGE_TYPE", `Unknown or malformed message of type ${type}.`);
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case "Speak":
        if (msg.text.length > SPEAK_TEXT_LIMIT) {
          this.warn(
            "TEXT_LENGTH_EXCEEDED",
            `Speak text is ${msg.text.length} characters; the limit is ${SPEAK_TEXT_LIMIT}. The message was ignored.`,
          );
          return;
        }
        this.text += msg.text;
        return;
      case "Flush":
        this.flush();
        return;
      case "Clear":
        this.clear();
        return;
      case "Close":
        this.stop();
        if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000);
        return;
    }
  }

  private flush(): void {
    const now = performance.now();
    while (this.flushTimes.length > 0 && now - (this.flushTimes[0] ?? 0) > FLUSH_WINDOW_MS) this.flushTimes.shift();
    this.flushTimes.push(now);
    if (this.flushTimes.length > FLUSH_LIMIT) {
      this.warn(
        "FLUSH_LIMIT_EXCEEDED",
        `More than ${FLUSH_LIMIT} Flush messages in ${FLUSH_WINDOW_MS / 1000} seconds.`,
      );
    }
    this.jobs.push({ sequenceId: this.nextSequenceId++, text: this.text, flushedAt: now });
    this.text = "";
    if (!this.running) this.run().catch((err: unknown) => console.error("deepgram emulator: speak stream failed", err));
  }

  private clear(): void {
    this.generation++;
    this.jobs.length = 0;
    this.text = "";
    this.sendJson({ type: "Cleared", sequence_id: this.nextSequenceId++ });
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      for (let job = this.jobs.shift(); job && !this.closed; job = this.jobs.shift()) {
        const generation = this.generation;
        const audio = await this.deps.synth
          .synthesize(job.text, this.config.model, this.config.encoding, this.config.sampleRate, this.config.speed)
          .catch(() => Buffer.alloc(0));
        if (this.closed || generation !== this.generation) continue;
        await sleep(job.flushedAt + this.deps.ttsFirstByteMs - performance.now());
        if (!(await this.stream(audio, generation))) continue;
        this.sendJson({ type: "Flushed", sequence_id: job.sequenceId });
      }
    } finally {
      this.running = false;
    }
  }

  /** Sends audio in chunks on an absolute schedule; returns false if Clear or a close cut it short. */
  private async stream(audio: Buffer, generation: number): Promise<boolean> {
    const factor = this.deps.realtimeFactor;
    const paced = factor > 0 && Number.isFinite(factor);
    const start = performance.now();
    for (let off = 0, i = 0; off < audio.length; off += this.bytesPerChunk, i++) {
      if (paced && i > 0) await sleep(start + (i * CHUNK_MS) / factor - performance.now());
      if (this.closed || generation !== this.generation) return false;
      if (this.ws.readyState !== this.ws.OPEN) return false;
      this.ws.send(audio.subarray(off, Math.min(audio.length, off + this.bytesPerChunk)));
    }
    return !this.closed && generation === this.generation;
  }

  private warn(code: string, description: string): void {
    this.sendJson({ type: "Warning", description, code });
  }

  private sendJson(msg: object): void {
    if (!this.closed && this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private stop(): void {
    this.closed = true;
    this.generation++;
    this.jobs.length = 0;
  }
}
