// Child process of the capacity benchmark: many lean simulated Twilio callers on one shared, drift-free 20 ms
// clock. The workload is the one bench/media-node/callers-process.ts drives (each call says one recorded line,
// listens to the whole reply, echoes marks, repeats for `turns` turns, calls ramped in over `rampMs`), plus
// what a caller would hear: each call plays the agent's audio through a 60 ms jitter buffer, one 160-byte
// frame per tick, and counts the ticks where the buffer ran dry in the middle of a reply (a gap the caller
// hears). It is the same code against the media node and the baseline, so their figures compare.
// The parent talks to it over IPC: {type:"run", …} in, {type:"done", …} out.
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { z } from "zod";

const RunMessage = z.object({
  type: z.literal("run"),
  url: z.string(),
  /** `start.customParameters` per call; its length is the number of calls. */
  params: z.array(z.record(z.string(), z.string())),
  turns: z.number().int().min(1),
  rampMs: z.number().min(0),
  /** base64 μ-law of the line each caller says. */
  speech: z.string(),
});
type RunMessage = z.infer<typeof RunMessage>;

export interface LoadCallersResult {
  type: "done";
  calls: number;
  connected: number;
  refused: number;
  timeouts: number;
  repliesHeard: number;
  /** End of the caller's line → first agent media message received. */
  voiceToVoiceMs: number[];
  /** Reply frames played to the caller, and ticks where the buffer was empty mid-reply. */
  playedFrames: number;
  gapFrames: number;
  gapEvents: number;
  callsWithGaps: number;
  /** How late this process's own clock ticked (if large, the load generator, not the system, is the limit). */
  tickLatenessP99Ms: number;
  tickLatenessMaxMs: number;
  errors: string[];
}

const FRAME_BYTES = 160;
const FRAME_MS = 20;
const JITTER_BUFFER_MS = 60;
const REPLY_SILENCE_MS = 900;
const REPLY_TIMEOUT_MS = 20_000;
const SILENCE_B64 = Buffer.alloc(FRAME_BYTES, 0xff).toString("base64");

interface Call {
  ws: WebSocket;
  sid: string;
  phase: "speaking" | "waiting" | "done";
  pos: number;
  turnsLeft: number;
  chunk: number;
  speechEndAt: number;
  replyStarted: boolean;
  playFrom: number;
  queued: number;
  enqueuedTotal: number;
  playedTotal: number;
  pendingMarks: { name: string; at: number }[];
  pendingUnderrun: number;
  lastActivityAt: number;
  hadGap: boolean;
}

/** Decoded size of a base64 string without decoding it. */
function base64Bytes(b64: string): number {
  const pad = b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0;
  return (b64.length / 4) * 3 - pad;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

async function run(msg: RunMessage): Promise<LoadCallersResult> {
  const speech = Buffer.from(msg.speech, "base64");
  const frames: string[] = [];
  for (let at = 0; at < speech.length; at += FRAME_BYTES) {
    const f = Buffer.alloc(FRAME_BYTES, 0xff);
    speech.copy(f, 0, at, Math.min(at + FRAME_BYTES, speech.length));
    frames.push(f.toString("base64"));
  }
  const calls: Call[] = [];
  const v2v: number[] = [];
  const tickLateness: number[] = [];
  const errors = new Set<string>();
  let refused = 0;
  let failed = 0;
  let timeouts = 0;
  let repliesHeard = 0;
  let playedFrames = 0;
  let gapFrames = 0;
  let gapEvents = 0;

  const send = (call: Call, text: string) => {
    if (call.ws.readyState === WebSocket.OPEN) call.ws.send(text);
  };
  const echoMark = (call: Call, name: string) =>
    send(
      call,
      JSON.stringify({ event: "mark", sequenceNumber: String(++call.chunk), streamSid: call.sid, mark: { name } }),
    );

  const onMessage = (call: Call, text: string) => {
    let m: { event?: string; media?: { payload?: string }; mark?: { name?: string } };
    try {
      m = JSON.parse(text);
    } catch {
      errors.add("non-JSON message from the server");
      return;
    }
    const now = performance.now();
    if (m.event === "media" && typeof m.media?.payload === "string") {
      if (call.phase !== "waiting") return;
      const bytes = base64Bytes(m.media.payload);
      if (!call.replyStarted) {
        call.replyStarted = true;
        call.playFrom = now + JITTER_BUFFER_MS;
        v2v.push(now - call.speechEndAt);
      }
      if (call.pendingUnderrun > 0) {
        gapFrames += call.pendingUnderrun;
        gapEvents += 1;
        call.hadGap = true;
        call.pendingUnderrun = 0;
      }
      call.queued += bytes;
      call.enqueuedTotal += bytes;
      call.lastActivityAt = now;
    } else if (m.event === "mark" && typeof m.mark?.name === "string") {
      // Echoed once the audio queued before it has played, as the carrier does.
      if (call.playedTotal >= call.enqueuedTotal) echoMark(call, m.mark.name);
      else call.pendingMarks.push({ name: m.mark.name, at: call.enqueuedTotal });
    } else if (m.event === "clear") {
      call.queued = 0;
      call.enqueuedTotal = call.playedTotal;
      for (const mark of call.pendingMarks.splice(0)) echoMark(call, mark.name);
    }
  };

  const open = (params: Record<string, string>, i: number) =>
    new Promise<void>((resolve) => {
      const sid = `MZ${i.toString(16).padStart(32, "0")}`;
      const ws = new WebSocket(msg.url, { perMessageDeflate: false });
      const call: Call = {
        ws,
        sid,
        phase: "speaking",
        pos: 0,
        turnsLeft: msg.turns,
        chunk: 1,
        speechEndAt: 0,
        replyStarted: false,
        playFrom: 0,
        queued: 0,
        enqueuedTotal: 0,
        playedTotal: 0,
        pendingMarks: [],
        pendingUnderrun: 0,
        lastActivityAt: 0,
        hadGap: false,
      };
      ws.on("open", () => {
        ws.send('{"event":"connected","protocol":"Call","version":"1.0.0"}');
        ws.send(
          JSON.stringify({
            event: "start",
            sequenceNumber: "1",
            start: {
              streamSid: sid,
              callSid: `CA${i.toString(16).padStart(32, "0")}`,
              accountSid: "AC00000000000000000000000000000000",
              tracks: ["inbound"],
              customParameters: params,
              mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
            },
            streamSid: sid,
          }),
        );
        calls.push(call);
        resolve();
      });
      ws.on("message", (data) => onMessage(call, data.toString()));
      ws.on("unexpected-response", (_req, res) => {
        refused += 1;
        errors.add(`upgrade refused: HTTP ${res.statusCode}`);
        resolve();
      });
      ws.on("error", (err) => {
        if (!calls.includes(call)) failed += 1;
        errors.add(err.message);
        resolve();
      });
      ws.on("close", (code) => {
        if (call.phase !== "done" && code !== 1000) errors.add(`server closed a call with ${code}`);
        call.phase = "done";
      });
    });

  const step = msg.params.length > 1 ? msg.rampMs / (msg.params.length - 1) : 0;
  const opening = msg.params.map(
    (params, i) => new Promise<void>((r) => setTimeout(() => void open(params, i).then(r), i * step)),
  );

  const t0 = performance.now();
  let tick = 0;
  await new Promise<void>((resolveAll) => {
    const loop = () => {
      const now = performance.now();
      tickLateness.push(now - (t0 + tick * FRAME_MS));
      for (const call of calls) {
        if (call.phase === "done" || call.ws.readyState !== WebSocket.OPEN) continue;
        // Playout: one frame per tick once the jitter buffer has filled.
        if (call.replyStarted && now >= call.playFrom) {
          if (call.queued > 0) {
            const n = Math.min(FRAME_BYTES, call.queued);
            call.queued -= n;
            call.playedTotal += n;
            playedFrames += 1;
            if (call.queued === 0) call.lastActivityAt = now;
            while (call.pendingMarks.length > 0 && (call.pendingMarks[0]?.at ?? 0) <= call.playedTotal) {
              echoMark(call, call.pendingMarks.shift()?.name ?? "");
            }
          } else {
            call.pendingUnderrun += 1;
          }
        }
        let payload = SILENCE_B64;
        if (call.phase === "speaking") {
          payload = frames[call.pos++] ?? SILENCE_B64;
          if (call.pos >= frames.length) {
            call.phase = "waiting";
            call.speechEndAt = now;
            call.replyStarted = false;
          }
        } else if (call.phase === "waiting") {
          const replied = call.replyStarted && call.queued === 0 && now - call.lastActivityAt > REPLY_SILENCE_MS;
          const timedOut = !call.replyStarted && now - call.speechEndAt > REPLY_TIMEOUT_MS;
          if (timedOut) timeouts += 1;
          if (replied) repliesHeard += 1;
          if (replied || timedOut) {
            // The silence that ended the reply is not a gap.
            call.pendingUnderrun = 0;
            call.replyStarted = false;
            call.turnsLeft -= 1;
            if (call.turnsLeft > 0 && !timedOut) {
              call.phase = "speaking";
              call.pos = 0;
            } else {
              call.phase = "done";
              send(
                call,
                JSON.stringify({ event: "stop", sequenceNumber: String(++call.chunk), streamSid: call.sid, stop: {} }),
              );
              call.ws.close(1000);
              continue;
            }
          }
        }
        call.chunk += 1;
        send(
          call,
          `{"event":"media","sequenceNumber":"${call.chunk}","media":{"track":"inbound","chunk":"${call.chunk}","timestamp":"${call.chunk * FRAME_MS}","payload":"${payload}"},"streamSid":"${call.sid}"}`,
        );
      }
      tick += 1;
      const allOpened = calls.length + refused + failed >= msg.params.length;
      if (allOpened && calls.every((c) => c.phase === "done")) return resolveAll();
      setTimeout(loop, Math.max(0, t0 + tick * FRAME_MS - performance.now()));
    };
    loop();
  });
  await Promise.all(opening);
  return {
    type: "done",
    calls: msg.params.length,
    connected: calls.length,
    refused,
    timeouts,
    repliesHeard,
    voiceToVoiceMs: v2v.map((x) => Math.round(x * 10) / 10),
    playedFrames,
    gapFrames,
    gapEvents,
    callsWithGaps: calls.filter((c) => c.hadGap).length,
    tickLatenessP99Ms: Math.round(percentile(tickLateness, 99) * 10) / 10,
    tickLatenessMaxMs: Math.round(Math.max(0, ...tickLateness) * 10) / 10,
    errors: [...errors].slice(0, 10),
  };
}

process.on("message", (raw: unknown) => {
  const msg = RunMessage.safeParse(raw);
  if (!msg.success) {
    process.send?.({ type: "error", message: z.prettifyError(msg.error) });
    return;
  }
  run(msg.data).then(
    (result) => process.send?.(result),
    (err: unknown) => process.send?.({ type: "error", message: String(err) }),
  );
});
process.send?.({ type: "ready" });
