// The baseline the benchmark compares the media node against: the voice loop built the way the public
// Twilio + Deepgram Node samples build it (twilio-labs/call-gpt, deepgram/deepgram-twilio-streaming-voice-agent).
// One `ws` connection per call; on `start` a Deepgram live socket (official SDK) and a Deepgram TTS socket;
// on each final transcript (speech_final, or UtteranceEnd after finals) a Bedrock ConverseStream (official
// SDK) whose tokens are cut into sentences, each sentence sent to TTS as soon as it is complete; every TTS
// audio message forwarded to the carrier as one `media` message the moment it arrives, with a `mark` after
// each sentence. Barge-in is the samples' rule: an interim transcript while marks are outstanding sends
// `clear`. What it deliberately lacks, because the samples lack it: an outbound pacer, clause-level
// streaming, a prompt-cache point, turn-taking beyond the STT's endpointing, and any trimming of history
// to what the caller heard. It imports nothing of media-nodes/: it is the comparison, not our code.
//
// Standalone (the benchmark runs it this way, in its own process):
//   BASELINE_PORT=0 DEEPGRAM_URL=http://127.0.0.1:8091 BEDROCK_ENDPOINT=http://127.0.0.1:8092 tsx bench/baseline/ws-relay.ts
// It prints "baseline relay listening on http://127.0.0.1:PORT"; WebSocket at any path; GET /stats for figures.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import {
  type Message as BedrockMessage,
  BedrockRuntimeClient,
  ConverseStreamCommand,
} from "@aws-sdk/client-bedrock-runtime";
import { DeepgramClient } from "@deepgram/sdk";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import { z } from "zod";
import { BENCH_MODEL_ID, BENCH_SYSTEM_PROMPT, BENCH_VOICE } from "../lib/agent.ts";

export interface WsRelayOptions {
  /** Loopback by default. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Deepgram base URL (the emulator's http://127.0.0.1:PORT or https://api.deepgram.com). */
  deepgramUrl: string;
  deepgramApiKey?: string;
  /** Bedrock endpoint override (the emulator); absent means the real regional endpoint. */
  bedrockEndpoint?: string;
  region?: string;
  modelId?: string;
  systemPrompt?: string;
  voice?: string;
}

/** One reply's timeline inside the relay (performance.now() milliseconds, relative to the call's start). */
export interface RelayTurnTiming {
  callSid: string;
  index: number;
  userText: string;
  sttFinalAt: number;
  llmRequestAt: number;
  llmFirstTokenAt: number | null;
  /** The first complete sentence was handed to TTS. */
  firstTextToTtsAt: number | null;
  ttsFirstByteAt: number | null;
  firstMediaOutAt: number | null;
  /**
   * The relay's own share of the critical path, the same definition the media node uses: STT final → LLM
   * request, plus TTS first byte → first `media` message sent. Waiting on STT, the model (including for
   * a whole sentence) and TTS is the providers' share. Null when the turn produced no audio.
   */
  platformMs: number | null;
}

export interface RelayStats {
  activeCalls: number;
  callsStarted: number;
  mediaMessagesSent: number;
  turns: RelayTurnTiming[];
  /** How late the event loop ran beyond its 10 ms sampling interval, since the last reset. */
  eventLoop: { p50Ms: number; p99Ms: number; maxMs: number };
  cpu: { userMs: number; systemMs: number };
  memory: { rssBytes: number; heapUsedBytes: number };
  errors: string[];
}

export interface WsRelay {
  url: string;
  port: number;
  /** Figures so far; `reset` clears the turn list, errors and the event-loop histogram afterwards. */
  stats(reset?: boolean): RelayStats;
  close(): Promise<void>;
}

// Only what the relay reads from the carrier; the samples JSON.parse without checks, we at least refuse junk.
const StartMessage = z.object({
  event: z.literal("start"),
  start: z.object({
    streamSid: z.string().min(1),
    callSid: z.string().optional(),
    customParameters: z.record(z.string(), z.string()).optional(),
  }),
});

const MAX_ERRORS = 200;
const MAX_PENDING_FRAMES = 500;
const LOOP_RESOLUTION_MS = 10;
const loopDelayMs = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
const SENTENCE_END = /[.!?]["')\]]*\s+/;

type ListenSocket = Awaited<ReturnType<DeepgramClient["listen"]["v1"]["connect"]>>;
type SpeakSocket = Awaited<ReturnType<DeepgramClient["speak"]["v1"]["connect"]>>;

interface Shared {
  deepgram: DeepgramClient;
  bedrock: BedrockRuntimeClient;
  modelId: string;
  systemPrompt: string;
  voice: string;
  turns: RelayTurnTiming[];
  errors: string[];
  counters: { active: number; started: number; mediaOut: number };
}

function deepgramEnvironment(baseUrl: string): { base: string; production: string; agent: string; agentRest: string } {
  const u = new URL(baseUrl);
  const secure = u.protocol === "https:" || u.protocol === "wss:";
  const path = u.pathname.replace(/\/$/, "");
  const rest = `${secure ? "https:" : "http:"}//${u.host}${path}`;
  const ws = `${secure ? "wss:" : "ws:"}//${u.host}${path}`;
  return { base: rest, production: ws, agent: ws, agentRest: rest };
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === "object" && "message" in err) return String((err as { message: unknown }).message);
  return String(err);
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}

async function binaryOf(message: unknown): Promise<Uint8Array | null> {
  if (message instanceof Blob) return new Uint8Array(await message.arrayBuffer());
  if (message instanceof ArrayBuffer) return new Uint8Array(message);
  if (message instanceof Uint8Array) return message;
  return null;
}

/** One phone call: the carrier socket and the provider sockets opened for it. */
class RelayCall {
  private streamSid = "";
  private callSid = "";
  private readonly t0 = performance.now();
  private stt: ListenSocket | null = null;
  private tts: SpeakSocket | null = null;
  private pendingAudio: Buffer[] = [];
  private finals: string[] = [];
  private history: BedrockMessage[] = [];
  private llmAbort: AbortController | null = null;
  private turnIndex = 0;
  private current: RelayTurnTiming | null = null;
  private outstandingMarks = new Set<string>();
  private markSeq = 0;
  /** After a barge-in, TTS audio still in flight belongs to the reply the caller cut off. */
  private dropAudioUntilCleared = false;
  /** TTS messages are Blobs read asynchronously; chaining keeps audio and Flushed in arrival order. */
  private ttsChain: Promise<void> = Promise.resolve();
  private keepAlive: ReturnType<typeof setInterval> | null = null;
  private closed = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly shared: Shared,
  ) {
    ws.on("message", (data, isBinary) => this.onCarrierMessage(data, isBinary));
    ws.on("close", () => this.close());
    ws.on("error", () => this.close());
  }

  private now(): number {
    return performance.now() - this.t0;
  }

  private error(what: string, err: unknown): void {
    if (this.shared.errors.length < MAX_ERRORS)
      this.shared.errors.push(`${this.callSid || "call"}: ${what}: ${errorText(err)}`);
  }

  private onCarrierMessage(data: RawData, isBinary: boolean): void {
    if (isBinary || this.closed) return;
    let msg: unknown;
    try {
      msg = JSON.parse(rawToString(data));
    } catch {
      return;
    }
    if (!msg || typeof msg !== "object") return;
    const event = (msg as { event?: unknown }).event;
    if (event === "media") {
      const payload = (msg as { media?: { payload?: unknown } }).media?.payload;
      if (typeof payload !== "string") return;
      const audio = Buffer.from(payload, "base64");
      if (this.stt && this.stt.readyState === 1) this.stt.sendMedia(audio);
      // Audio that arrives while the provider sockets open is kept for them (at most a few seconds' worth).
      else if (!this.stt && this.streamSid && this.pendingAudio.length < MAX_PENDING_FRAMES)
        this.pendingAudio.push(audio);
    } else if (event === "start") {
      const start = StartMessage.safeParse(msg);
      if (!start.success || this.streamSid) return;
      this.streamSid = start.data.start.streamSid;
      this.callSid = start.data.start.callSid ?? this.streamSid;
      this.shared.counters.started++;
      this.shared.counters.active++;
      void this.openProviders();
    } else if (event === "mark") {
      const name = (msg as { mark?: { name?: unknown } }).mark?.name;
      if (typeof name === "string") this.outstandingMarks.delete(name);
    } else if (event === "stop") {
      this.ws.close(1000);
    }
  }

  private async openProviders(): Promise<void> {
    const dg = this.shared.deepgram;
    try {
      const [stt, tts] = await Promise.all([
        dg.listen.v1.connect({
          model: "nova-3",
          encoding: "mulaw",
          sample_rate: 8000,
          channels: 1,
          interim_results: "true",
          endpointing: 300,
          utterance_end_ms: 1000,
          smart_format: "true",
          punctuate: "true",
        }),
        dg.speak.v1.connect({ model: this.shared.voice, encoding: "mulaw", sample_rate: "8000" }),
      ]);
      stt.on("message", (m) => this.onTranscript(m));
      stt.on("error", (e) => this.error("stt", e));
      tts.on("message", (m) => this.onTtsMessage(m));
      tts.on("error", (e) => this.error("tts", e));
      stt.connect();
      tts.connect();
      await Promise.all([stt.waitForOpen(), tts.waitForOpen()]);
      if (this.closed) {
        stt.close();
        tts.close();
        return;
      }
      this.stt = stt;
      this.tts = tts;
      for (const chunk of this.pendingAudio) stt.sendMedia(chunk);
      this.pendingAudio = [];
      // Deepgram closes a live socket after 10 s without audio; the samples keep it alive the same way.
      this.keepAlive = setInterval(() => {
        if (this.stt?.readyState === 1) this.stt.sendKeepAlive({ type: "KeepAlive" });
      }, 8_000);
    } catch (err) {
      this.error("opening Deepgram", err);
      this.ws.close(1011, "provider unavailable");
    }
  }

  private onTranscript(message: unknown): void {
    if (this.closed || !message || typeof message !== "object") return;
    const m = message as {
      type?: string;
      is_final?: boolean;
      speech_final?: boolean;
      channel?: { alternatives?: { transcript?: string }[] };
    };
    if (m.type === "UtteranceEnd") {
      if (this.finals.length > 0) this.respond(this.finals.splice(0).join(" "));
      return;
    }
    if (m.type !== "Results") return;
    const text = (m.channel?.alternatives?.[0]?.transcript ?? "").trim();
    if (text === "") return;
    if (m.is_final) {
      this.finals.push(text);
      if (m.speech_final) this.respond(this.finals.splice(0).join(" "));
    } else if (this.outstandingMarks.size > 0 && text.length > 5) {
      this.bargeIn();
    }
  }

  private bargeIn(): void {
    this.send({ event: "clear", streamSid: this.streamSid });
    this.outstandingMarks.clear();
    this.llmAbort?.abort();
    this.llmAbort = null;
    this.dropAudioUntilCleared = true;
    this.tts?.sendClear({ type: "Clear" });
  }

  private respond(userText: string): void {
    this.llmAbort?.abort();
    const abort = new AbortController();
    this.llmAbort = abort;
    const last = this.history[this.history.length - 1];
    // A reply cut off before it said anything leaves two user messages in a row, which Bedrock refuses.
    if (last?.role === "user") last.content = [{ text: `${last.content?.[0]?.text ?? ""} ${userText}`.trim() }];
    else this.history.push({ role: "user", content: [{ text: userText }] });
    const at = this.now();
    const turn: RelayTurnTiming = {
      callSid: this.callSid,
      index: ++this.turnIndex,
      userText,
      sttFinalAt: at,
      llmRequestAt: at,
      llmFirstTokenAt: null,
      firstTextToTtsAt: null,
      ttsFirstByteAt: null,
      firstMediaOutAt: null,
      platformMs: null,
    };
    this.current = turn;
    this.shared.turns.push(turn);
    void this.streamReply(turn, abort);
  }

  private async streamReply(turn: RelayTurnTiming, abort: AbortController): Promise<void> {
    let reply = "";
    let pending = "";
    const speak = (text: string) => {
      const t = text.trim();
      if (t === "" || !this.tts || abort.signal.aborted) return;
      this.dropAudioUntilCleared = false;
      turn.firstTextToTtsAt ??= this.now();
      this.tts.sendText({ type: "Speak", text: t });
      this.tts.sendFlush({ type: "Flush" });
    };
    try {
      turn.llmRequestAt = this.now();
      const response = await this.shared.bedrock.send(
        new ConverseStreamCommand({
          modelId: this.shared.modelId,
          system: [{ text: this.shared.systemPrompt }],
          messages: this.history.map((m) => ({ role: m.role, content: m.content })),
          inferenceConfig: { maxTokens: 300 },
        }),
        { abortSignal: abort.signal },
      );
      for await (const event of response.stream ?? []) {
        if (abort.signal.aborted) break;
        const delta = event.contentBlockDelta?.delta?.text;
        if (!delta) continue;
        turn.llmFirstTokenAt ??= this.now();
        reply += delta;
        pending += delta;
        for (let m = SENTENCE_END.exec(pending); m; m = SENTENCE_END.exec(pending)) {
          const end = m.index + m[0].length;
          speak(pending.slice(0, end));
          pending = pending.slice(end);
        }
      }
      speak(pending);
    } catch (err) {
      if (!abort.signal.aborted) this.error("bedrock", err);
    } finally {
      if (this.llmAbort === abort) this.llmAbort = null;
      if (reply.trim() !== "") this.history.push({ role: "assistant", content: [{ text: reply.trim() }] });
    }
  }

  private onTtsMessage(message: unknown): void {
    if (this.closed) return;
    if (message && typeof message === "object" && "type" in message && !(message instanceof Blob)) {
      const type = (message as { type: unknown }).type;
      this.ttsChain = this.ttsChain.then(() => {
        if (type === "Cleared") this.dropAudioUntilCleared = false;
        else if (type === "Flushed" && !this.dropAudioUntilCleared) {
          const name = `s${++this.markSeq}`;
          this.outstandingMarks.add(name);
          this.send({ event: "mark", streamSid: this.streamSid, mark: { name } });
        }
      });
      return;
    }
    const audio = binaryOf(message);
    this.ttsChain = this.ttsChain.then(async () => {
      const bytes = await audio;
      if (!bytes || bytes.byteLength === 0 || this.dropAudioUntilCleared || this.closed) return;
      const turn = this.current;
      if (turn && turn.ttsFirstByteAt === null) turn.ttsFirstByteAt = this.now();
      this.send({
        event: "media",
        streamSid: this.streamSid,
        media: { payload: Buffer.from(bytes).toString("base64") },
      });
      this.shared.counters.mediaOut++;
      if (turn && turn.firstMediaOutAt === null && turn.ttsFirstByteAt !== null) {
        turn.firstMediaOutAt = this.now();
        turn.platformMs =
          Math.round((turn.llmRequestAt - turn.sttFinalAt + (turn.firstMediaOutAt - turn.ttsFirstByteAt)) * 1000) /
          1000;
      }
    });
  }

  private send(message: object): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.streamSid) this.shared.counters.active--;
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.llmAbort?.abort();
    try {
      if (this.stt?.readyState === 1) this.stt.sendCloseStream({ type: "CloseStream" });
      this.stt?.close();
      if (this.tts?.readyState === 1) this.tts.sendClose({ type: "Close" });
      this.tts?.close();
    } catch (err) {
      this.error("closing providers", err);
    }
    this.pendingAudio = [];
  }
}

export async function startWsRelay(options: WsRelayOptions): Promise<WsRelay> {
  const host = options.host ?? "127.0.0.1";
  const deepgram = new DeepgramClient({
    apiKey: options.deepgramApiKey ?? "baseline-local-key",
    environment: deepgramEnvironment(options.deepgramUrl),
  });
  const bedrock = new BedrockRuntimeClient({
    region: options.region ?? "us-east-1",
    ...(options.bedrockEndpoint
      ? {
          endpoint: options.bedrockEndpoint,
          credentials: { accessKeyId: "local-emulator", secretAccessKey: "local-emulator" },
        }
      : {}),
  });
  const shared: Shared = {
    deepgram,
    bedrock,
    modelId: options.modelId ?? BENCH_MODEL_ID,
    systemPrompt: options.systemPrompt ?? BENCH_SYSTEM_PROMPT,
    voice: options.voice ?? BENCH_VOICE,
    turns: [],
    errors: [],
    counters: { active: 0, started: 0, mediaOut: 0 },
  };
  // The same sampler as the media node's (10 ms). Node records the time between samples, so the interval
  // itself is subtracted to report how late the loop ran.
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  const cpuAtStart = process.cpuUsage();
  const calls = new Set<RelayCall>();

  const stats = (reset = false): RelayStats => {
    const cpu = process.cpuUsage(cpuAtStart);
    const mem = process.memoryUsage();
    const out: RelayStats = {
      activeCalls: shared.counters.active,
      callsStarted: shared.counters.started,
      mediaMessagesSent: shared.counters.mediaOut,
      turns: shared.turns.map((t) => ({ ...t })),
      eventLoop: {
        p50Ms: loopDelayMs(loop.percentile(50)),
        p99Ms: loopDelayMs(loop.percentile(99)),
        maxMs: loopDelayMs(loop.max),
      },
      cpu: { userMs: cpu.user / 1000, systemMs: cpu.system / 1000 },
      memory: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed },
      errors: [...shared.errors],
    };
    if (reset) {
      loop.reset();
      shared.turns.length = 0;
      shared.errors.length = 0;
    }
    return out;
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (req.method === "GET" && url.pathname === "/stats") {
      const body = JSON.stringify(stats(url.searchParams.get("reset") === "1"));
      res.writeHead(200, { "content-type": "application/json" }).end(body);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on("connection", (ws) => {
    const call = new RelayCall(ws, shared);
    calls.add(call);
    ws.once("close", () => calls.delete(call));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : (options.port ?? 0);
  return {
    url: `http://${host}:${port}`,
    port,
    stats,
    async close() {
      loop.disable();
      for (const call of calls) call.close();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      bedrock.destroy();
    },
  };
}

const Env = z.object({
  BASELINE_PORT: z.coerce.number().int().min(0).max(65_535).default(0),
  DEEPGRAM_URL: z.string().url().default("http://127.0.0.1:8091"),
  DEEPGRAM_API_KEY: z.string().min(1).optional(),
  BEDROCK_ENDPOINT: z.string().url().optional(),
  AWS_REGION: z.string().min(1).default("us-east-1"),
  BASELINE_MODEL_ID: z.string().min(1).optional(),
});

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const env = Env.safeParse(process.env);
  if (!env.success) {
    process.stderr.write(`baseline relay: ${z.prettifyError(env.error)}\n`);
    process.exit(2);
  }
  const e = env.data;
  const relay = await startWsRelay({
    port: e.BASELINE_PORT,
    deepgramUrl: e.DEEPGRAM_URL,
    ...(e.DEEPGRAM_API_KEY ? { deepgramApiKey: e.DEEPGRAM_API_KEY } : {}),
    bedrockEndpoint: e.BEDROCK_ENDPOINT ?? "http://127.0.0.1:8092",
    region: e.AWS_REGION,
    ...(e.BASELINE_MODEL_ID ? { modelId: e.BASELINE_MODEL_ID } : {}),
  });
  process.stdout.write(`baseline relay listening on ${relay.url}\n`);
  const stop = () => void relay.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
