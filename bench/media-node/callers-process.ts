// Benchmark helper process: many lean simulated Twilio callers on one shared drift-free clock. Each call
// speaks a recorded line, listens to the reply (marks echoed as they arrive), and repeats; the parent
// sends the tokens and collects the results over IPC.
//
// Calls sit in ten 2 ms phases of the 20 ms frame period, as independent real calls do (each starts at
// its own moment). Sending every call's frame in one burst per 20 ms made this process fall behind on a
// shared core (its own clock ran 40-300 ms late at p99 with 300 calls) and then catch up in bursts,
// which measured the load generator rather than the node. Its clock lateness is reported either way.
import { performance } from "node:perf_hooks";
import WebSocket from "ws";

interface RunMessage {
  type: "run";
  url: string;
  tokens: string[];
  turns: number;
  rampMs: number;
  /** base64 μ-law of the line each caller says. */
  speech: string;
}

interface Call {
  ws: WebSocket;
  sid: string;
  phase: "connecting" | "speaking" | "waiting" | "done";
  pos: number;
  turnsLeft: number;
  speechEndAt: number;
  firstAgentAt: number | undefined;
  lastAgentAt: number;
  chunk: number;
  /** Which 2 ms phase of the 20 ms period this call's frames go out in. */
  slot: number;
  closeCode?: number;
}

const SLOTS = 10;
const SLOT_MS = 20 / SLOTS;
const MEDIA_PREFIX = Buffer.from('{"event":"media"');

const SILENCE_B64 = Buffer.alloc(160, 0xff).toString("base64");
const REPLY_SILENCE_MS = 900;
const REPLY_TIMEOUT_MS = 20_000;

function percentile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function run(msg: RunMessage): Promise<void> {
  const speech = Buffer.from(msg.speech, "base64");
  const frames: string[] = [];
  for (let at = 0; at < speech.length; at += 160) {
    const f = Buffer.alloc(160, 0xff);
    speech.copy(f, 0, at, Math.min(at + 160, speech.length));
    frames.push(f.toString("base64"));
  }
  const calls: Call[] = [];
  const v2v: number[] = [];
  let timeouts = 0;
  let refused = 0;
  const errors = new Set<string>();

  const open = (token: string, i: number) =>
    new Promise<void>((resolve) => {
      const sid = `MZ${i.toString(16).padStart(32, "0")}`;
      const ws = new WebSocket(msg.url, { perMessageDeflate: false });
      const call: Call = {
        ws,
        sid,
        phase: "connecting",
        pos: 0,
        turnsLeft: msg.turns,
        speechEndAt: 0,
        firstAgentAt: undefined,
        lastAgentAt: 0,
        chunk: 0,
        slot: i % SLOTS,
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
              customParameters: { token },
              mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
            },
            streamSid: sid,
          }),
        );
        call.phase = "speaking";
        calls.push(call);
        resolve();
      });
      ws.on("message", (data: Buffer) => {
        const now = performance.now();
        // Agent audio is most of what arrives: recognise it from its first bytes, without a string.
        if (
          data.length > MEDIA_PREFIX.length &&
          data.compare(MEDIA_PREFIX, 0, MEDIA_PREFIX.length, 0, MEDIA_PREFIX.length) === 0
        ) {
          if (call.phase !== "waiting") return;
          if (call.firstAgentAt === undefined) {
            call.firstAgentAt = now;
            v2v.push(now - call.speechEndAt);
          }
          call.lastAgentAt = now;
          return;
        }
        const text = data.toString();
        if (text.includes('"event":"mark"')) {
          const name = JSON.parse(text).mark.name;
          ws.send(JSON.stringify({ event: "mark", streamSid: sid, mark: { name } }));
        }
      });
      ws.on("unexpected-response", (_req, res) => {
        refused += 1;
        errors.add(`upgrade ${res.statusCode}`);
        resolve();
      });
      ws.on("error", (err) => {
        errors.add(err.message);
        resolve();
      });
      ws.on("close", (code) => {
        call.closeCode = code;
        if (call.phase !== "done" && code !== 1000) errors.add(`closed ${code}`);
        call.phase = "done";
      });
    });

  const opening: Promise<void>[] = [];
  const step = msg.tokens.length > 1 ? msg.rampMs / (msg.tokens.length - 1) : 0;
  for (const [i, token] of msg.tokens.entries()) {
    opening.push(new Promise((r) => setTimeout(() => void open(token, i).then(r), i * step)));
  }

  // One drift-free clock for every caller in this process: a tick every 2 ms, each serving one phase.
  const t0 = performance.now();
  let tick = 0;
  const clockLateness: number[] = [];
  await new Promise<void>((resolveAll) => {
    const loop = () => {
      const now = performance.now();
      clockLateness.push(now - (t0 + tick * SLOT_MS));
      const slot = tick % SLOTS;
      for (const call of calls) {
        if (call.slot !== slot || call.phase === "done" || call.ws.readyState !== WebSocket.OPEN) continue;
        let payload = SILENCE_B64;
        if (call.phase === "speaking") {
          payload = frames[call.pos++] ?? SILENCE_B64;
          if (call.pos >= frames.length) {
            call.phase = "waiting";
            call.speechEndAt = now;
            call.firstAgentAt = undefined;
          }
        } else if (call.phase === "waiting") {
          const replied = call.firstAgentAt !== undefined && now - call.lastAgentAt > REPLY_SILENCE_MS;
          const timedOut = call.firstAgentAt === undefined && now - call.speechEndAt > REPLY_TIMEOUT_MS;
          if (timedOut) timeouts += 1;
          if (replied || timedOut) {
            call.turnsLeft -= 1;
            if (call.turnsLeft > 0 && !timedOut) {
              call.phase = "speaking";
              call.pos = 0;
            } else {
              call.phase = "done";
              call.ws.send(JSON.stringify({ event: "stop", streamSid: call.sid, stop: {} }));
              call.ws.close(1000);
              continue;
            }
          }
        }
        call.chunk += 1;
        call.ws.send(
          `{"event":"media","sequenceNumber":"${call.chunk + 1}","media":{"track":"inbound","chunk":"${call.chunk}","timestamp":"${call.chunk * 20}","payload":"${payload}"},"streamSid":"${call.sid}"}`,
        );
      }
      tick += 1;
      const allOpened = calls.length + refused >= msg.tokens.length;
      if (allOpened && calls.every((c) => c.phase === "done")) return resolveAll();
      setTimeout(loop, Math.max(0, t0 + tick * SLOT_MS - performance.now()));
    };
    loop();
  });
  await Promise.all(opening);
  process.send?.({
    type: "done",
    calls: msg.tokens.length,
    connected: calls.length,
    refused,
    timeouts,
    voiceToVoiceP50Ms: percentile(v2v, 0.5),
    voiceToVoiceP99Ms: percentile(v2v, 0.99),
    clockLatenessP99Ms: percentile(clockLateness, 0.99),
    errors: [...errors].slice(0, 5),
  });
}

process.on("message", (msg: RunMessage) => {
  if (msg.type === "run") void run(msg);
});
process.send?.({ type: "ready" });
