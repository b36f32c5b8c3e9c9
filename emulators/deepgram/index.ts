// Deepgram emulator: live STT (/v1/listen) and TTS (/v1/speak, WebSocket and REST) on one loopback port, so the
// official SDK and our media node can run offline. See docs/emulators.md for what it does and does not mimic.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { WebSocket, WebSocketServer } from "ws";
import { z } from "zod";
import { wavHeader } from "./audio.ts";
import { FluxSession } from "./flux.ts";
import { ListenSession } from "./listen.ts";
import {
  type ApiError,
  credentialAccepted,
  INVALID_AUTH,
  parseFluxQuery,
  parseListenQuery,
  parseSpeakQuery,
  readCredential,
} from "./params.ts";
import { ScriptBook } from "./script.ts";
import { SPEAK_TEXT_LIMIT, SpeakSession } from "./speak.ts";
import { type DeepgramFault, DeepgramFaultSchema, StreamRegistry } from "./streams.ts";
import { Synthesizer, type VoiceEngine } from "./synth.ts";

export { endOfTurnConfidence, REFERENCE_EAGER_THRESHOLD, REFERENCE_EOT_THRESHOLD } from "./flux-confidence.ts";
export { splitPauses } from "./line.ts";
export { FLUX_LIMITS } from "./params.ts";
export { DEFAULT_CALLER_SCRIPT } from "./script.ts";
export type { DeepgramFault } from "./streams.ts";

export interface LatencyProfile {
  /** Extra delay of final results after end of speech, beyond the endpointing silence. */
  sttFinalDelayMs: number;
  /** Time from Flush (or REST request) to the first audio byte. */
  ttsFirstByteMs: number;
  /** Audio seconds streamed per wall-clock second; default 4 (faster than real time, like the service). */
  ttsRealtimeFactor?: number;
  /**
   * Flux: silence after a finished line (stream time) before EagerEndOfTurn at eager_eot_threshold 0.5, and before
   * EndOfTurn at eot_threshold 0.7. Other thresholds move along the same curve. Default 150 and 350.
   */
  fluxEagerMs?: number;
  fluxEotMs?: number;
}

export const LATENCY_PROFILES = {
  instant: { sttFinalDelayMs: 0, ttsFirstByteMs: 0 },
  realistic: { sttFinalDelayMs: 150, ttsFirstByteMs: 120, fluxEagerMs: 150, fluxEotMs: 350 },
} as const satisfies Record<string, LatencyProfile>;

/** Flux's turn delays are silence the caller makes, in the audio, so every profile keeps the service's own. */
export const FLUX_EAGER_MS = 150;
export const FLUX_EOT_MS = 350;

export const DEFAULT_TTS_REALTIME_FACTOR = 4;

export interface DeepgramEmulatorOptions {
  /** Loopback only: "127.0.0.1" (default), "::1" or "localhost". */
  host?: string;
  /** Default: DEEPGRAM_EMULATOR_PORT or 8091; 0 picks a free port. */
  port?: number;
  /** Accepted keys/tokens; by default any non-empty token except the literal "invalid". */
  apiKeys?: string[];
  /** Default: DEEPGRAM_EMULATOR_LATENCY (JSON, e.g. {"sttFinalDelayMs":150,"ttsFirstByteMs":120}), else EMULATOR_PROFILE, else "instant". */
  profile?: LatencyProfile | "instant" | "realistic";
  /** Close a listen stream with 1011/NET-0001 after this long without audio or text. */
  silenceTimeoutMs?: number;
  /** Voice for TTS; "auto" uses espeak-ng when installed. */
  voice?: VoiceEngine | "auto";
}

export interface DeepgramEmulator {
  url: string;
  port: number;
  /** Lines the caller on streams with `tag=<tag>` will say, in order (replaces any earlier script for the tag). */
  setScript(tag: string, lines: string[]): void;
  /** Drops matching open listen streams, or stalls them (and later ones) until clearFaults. Returns streams hit. */
  injectFault(fault: DeepgramFault): number;
  clearFaults(): void;
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

const ProfileName = z.enum(["instant", "realistic"]);
const ProfileObject = z.object({
  sttFinalDelayMs: z.number().min(0).max(60_000),
  ttsFirstByteMs: z.number().min(0).max(60_000),
  ttsRealtimeFactor: z.number().min(0).optional(),
  // Never faster than the service: these are floors.
  fluxEagerMs: z.number().min(FLUX_EAGER_MS).max(60_000).optional(),
  fluxEotMs: z.number().min(FLUX_EOT_MS).max(60_000).optional(),
});
const Options = z.object({
  host: z.string().refine((h) => LOOPBACK.has(h), { error: "the Deepgram emulator binds to loopback only" }),
  port: z.number().int().min(0).max(65_535),
  apiKeys: z.array(z.string().min(1)).optional(),
  profile: z.union([ProfileName, ProfileObject]),
  silenceTimeoutMs: z.number().int().positive(),
  voice: z.enum(["auto", "espeak-ng", "synthetic"]),
});
const ScriptBody = z.object({ lines: z.array(z.string().trim().min(1).max(2000)).max(1000) });

/** A standalone emulator's latencies, set from outside as JSON; validated with the options below. */
function latencyFromEnv(): unknown {
  const raw = process.env.DEEPGRAM_EMULATOR_LATENCY;
  if (!raw) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw new Error("Deepgram emulator options: DEEPGRAM_EMULATOR_LATENCY is not valid JSON");
  }
}

function resolveOptions(options: DeepgramEmulatorOptions) {
  const envPort = process.env.DEEPGRAM_EMULATOR_PORT;
  const parsed = Options.safeParse({
    host: options.host ?? "127.0.0.1",
    port: options.port ?? Number(envPort ?? 8091),
    apiKeys: options.apiKeys,
    profile: options.profile ?? latencyFromEnv() ?? process.env.EMULATOR_PROFILE ?? "instant",
    silenceTimeoutMs: options.silenceTimeoutMs ?? 10_000,
    voice: options.voice ?? "auto",
  });
  if (!parsed.success) throw new Error(`Deepgram emulator options: ${z.prettifyError(parsed.error)}`);
  const o = parsed.data;
  const base: LatencyProfile = typeof o.profile === "string" ? LATENCY_PROFILES[o.profile] : o.profile;
  const profile: Required<LatencyProfile> = {
    sttFinalDelayMs: base.sttFinalDelayMs,
    ttsFirstByteMs: base.ttsFirstByteMs,
    ttsRealtimeFactor: base.ttsRealtimeFactor ?? DEFAULT_TTS_REALTIME_FACTOR,
    fluxEagerMs: "fluxEagerMs" in base && base.fluxEagerMs !== undefined ? base.fluxEagerMs : FLUX_EAGER_MS,
    fluxEotMs: "fluxEotMs" in base && base.fluxEotMs !== undefined ? base.fluxEotMs : FLUX_EOT_MS,
  };
  if (profile.fluxEotMs <= profile.fluxEagerMs) {
    throw new Error("Deepgram emulator options: fluxEotMs must be longer than fluxEagerMs");
  }
  return { ...o, profile, profileName: typeof o.profile === "string" ? o.profile : "custom" };
}

function errorBody(err: ApiError, requestId: string): string {
  return JSON.stringify({ err_code: err.errCode, err_msg: err.errMsg, request_id: requestId });
}

// Header values must be single-line Latin-1.
const headerSafe = (s: string): string => s.replace(/[^\x20-\x7e]/g, " ");

function rejectUpgrade(socket: Socket, err: ApiError, requestId: string): void {
  const body = errorBody(err, requestId);
  socket.once("finish", () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? "Error"}\r\n` +
      "Content-Type: application/json\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `dg-request-id: ${requestId}\r\n` +
      `dg-error: ${headerSafe(err.errMsg)}\r\n` +
      "Connection: close\r\n\r\n" +
      body,
  );
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, err: ApiError, requestId: string): void {
  const text = errorBody(err, requestId);
  res.writeHead(err.status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "dg-request-id": requestId,
    "dg-error": headerSafe(err.errMsg),
  });
  res.end(text);
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

export async function startDeepgramEmulator(options: DeepgramEmulatorOptions = {}): Promise<DeepgramEmulator> {
  const opts = resolveOptions(options);
  const scripts = new ScriptBook();
  const streams = new StreamRegistry();
  const synth = new Synthesizer({ engine: opts.voice });
  const requestIds = new WeakMap<IncomingMessage, string>();
  const sessions = { listen: 0, flux: 0, speak: 0 };
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();

  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 4 * 1024 * 1024,
    // Browser-style clients authenticate with "token, <key>"; the service echoes the scheme so the handshake succeeds.
    handleProtocols: (protocols) => (protocols.has("token") ? "token" : protocols.has("bearer") ? "bearer" : false),
  });
  wss.on("headers", (headers, req) => {
    const id = requestIds.get(req);
    if (id) headers.push(`dg-request-id: ${id}`);
  });

  const server = createServer((req, res) => {
    handleHttp(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { err_code: "INTERNAL", err_msg: String(err) });
      else res.destroy();
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const requestId = randomUUID();
    const scriptMatch = /^\/__emulator\/scripts\/([^/]+)$/.exec(url.pathname);

    if (url.pathname === "/__emulator/faults") {
      if (req.method === "POST") {
        let body: unknown;
        try {
          body = JSON.parse((await readBody(req, 64 * 1024)).toString("utf8"));
        } catch {
          sendJson(res, 400, {
            err_code: "INVALID_REQUEST_BODY",
            err_msg: 'Body must be JSON {"kind": "drop" | "stall", "tag"?}.',
          });
          return;
        }
        const parsed = DeepgramFaultSchema.safeParse(body);
        if (!parsed.success) {
          sendJson(res, 400, { err_code: "INVALID_REQUEST_BODY", err_msg: z.prettifyError(parsed.error) });
          return;
        }
        sendJson(res, 200, { ...parsed.data, streams: streams.inject(parsed.data) });
        return;
      }
      if (req.method === "DELETE") {
        streams.clear();
        res.writeHead(204).end();
        return;
      }
      if (req.method === "GET") {
        sendJson(res, 200, { faults: streams.faults });
        return;
      }
      sendJson(res, 405, { err_code: "METHOD_NOT_ALLOWED", err_msg: "Use POST, GET or DELETE." });
      return;
    }

    if (url.pathname === "/__emulator/health" && req.method === "GET") {
      const lag = {
        p50Ms: loopDelay.percentile(50) / 1e6,
        p99Ms: loopDelay.percentile(99) / 1e6,
        maxMs: loopDelay.max / 1e6,
      };
      if (url.searchParams.get("reset") === "1") loopDelay.reset();
      sendJson(res, 200, {
        ok: true,
        service: "deepgram-emulator",
        profile: opts.profileName,
        latency: opts.profile,
        voice: synth.engine,
        connections: { ...sessions },
        eventLoop: lag,
      });
      return;
    }
    if (scriptMatch?.[1]) {
      const tag = decodeURIComponent(scriptMatch[1]);
      if (req.method === "PUT") {
        let body: unknown;
        try {
          body = JSON.parse((await readBody(req, 1024 * 1024)).toString("utf8"));
        } catch {
          sendJson(res, 400, { err_code: "INVALID_REQUEST_BODY", err_msg: 'Body must be JSON {"lines": string[]}.' });
          return;
        }
        const parsed = ScriptBody.safeParse(body);
        if (!parsed.success) {
          sendJson(res, 400, { err_code: "INVALID_REQUEST_BODY", err_msg: z.prettifyError(parsed.error) });
          return;
        }
        scripts.set(tag, parsed.data.lines);
        sendJson(res, 200, { tag, lines: parsed.data.lines.length });
        return;
      }
      if (req.method === "GET") {
        sendJson(res, 200, { tag, remaining: scripts.remaining(tag) });
        return;
      }
      if (req.method === "DELETE") {
        scripts.delete(tag);
        res.writeHead(204).end();
        return;
      }
      sendJson(res, 405, { err_code: "METHOD_NOT_ALLOWED", err_msg: "Use PUT, GET or DELETE." });
      return;
    }
    if (url.pathname === "/v1/speak" && req.method === "POST") {
      await handleRestSpeak(req, res, url, requestId);
      return;
    }
    if (url.pathname === "/v1/listen" || url.pathname === "/v2/listen" || url.pathname === "/v1/speak") {
      sendError(
        res,
        {
          status: 405,
          errCode: "METHOD_NOT_ALLOWED",
          errMsg:
            url.pathname !== "/v1/speak"
              ? "The emulator serves live transcription over WebSocket only (pre-recorded POST /v1/listen is not emulated)."
              : "Use POST for REST text-to-speech or a WebSocket upgrade for streaming.",
        },
        requestId,
      );
      return;
    }
    sendError(
      res,
      { status: 404, errCode: "NOT_FOUND", errMsg: `No route for ${req.method} ${url.pathname}.` },
      requestId,
    );
  }

  async function handleRestSpeak(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    requestId: string,
  ): Promise<void> {
    const started = performance.now();
    const cred = readCredential(req.headers.authorization, undefined);
    if (!credentialAccepted(cred, opts.apiKeys)) {
      req.resume();
      sendError(res, INVALID_AUTH, requestId);
      return;
    }
    const params = parseSpeakQuery(url.searchParams, "rest");
    if (!params.ok) {
      req.resume();
      sendError(res, params.error, requestId);
      return;
    }
    let text: string;
    try {
      const raw = await readBody(req, 256 * 1024);
      const body = z.object({ text: z.string() }).safeParse(JSON.parse(raw.toString("utf8")));
      if (!body.success) throw new Error("bad body");
      text = body.data.text;
    } catch (err) {
      const tooLarge = err instanceof BodyTooLarge;
      sendError(
        res,
        {
          status: tooLarge ? 413 : 400,
          errCode: tooLarge ? "PAYLOAD_TOO_LARGE" : "INVALID_REQUEST_BODY",
          errMsg: tooLarge ? "Request body too large." : 'Body must be JSON {"text": string}.',
        },
        requestId,
      );
      return;
    }
    if (text.trim().length === 0 || text.length > SPEAK_TEXT_LIMIT) {
      sendError(
        res,
        {
          status: 400,
          errCode: "INVALID_REQUEST_BODY",
          errMsg:
            text.trim().length === 0
              ? "Text must not be empty."
              : `Text is ${text.length} characters; the limit is ${SPEAK_TEXT_LIMIT}.`,
        },
        requestId,
      );
      return;
    }
    const c = params.config;
    const audio = await synth.synthesize(text, c.model, c.encoding, c.sampleRate, c.speed);
    await sleep(started + opts.profile.ttsFirstByteMs - performance.now());
    const body =
      c.container === "wav" ? Buffer.concat([wavHeader(audio.length, c.sampleRate, c.encoding), audio]) : audio;
    res.writeHead(200, {
      "content-type": c.container === "wav" ? "audio/wav" : "application/octet-stream",
      "content-length": body.length,
      "dg-request-id": requestId,
      "dg-model-name": c.model,
      "dg-model-uuid": randomUUID(),
      "dg-char-count": String(text.length),
    });
    res.end(body);
  }

  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on("error", () => {});
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const requestId = randomUUID();
    const route =
      url.pathname === "/v1/listen"
        ? "listen"
        : url.pathname === "/v2/listen"
          ? "flux"
          : url.pathname === "/v1/speak"
            ? "speak"
            : null;
    if (!route) {
      rejectUpgrade(
        socket,
        { status: 404, errCode: "NOT_FOUND", errMsg: `No WebSocket at ${url.pathname}.` },
        requestId,
      );
      return;
    }
    const protocolHeader = req.headers["sec-websocket-protocol"];
    const cred = readCredential(req.headers.authorization, protocolHeader);
    if (!credentialAccepted(cred, opts.apiKeys)) {
      rejectUpgrade(socket, INVALID_AUTH, requestId);
      return;
    }
    if (route === "listen") {
      const params = parseListenQuery(url.searchParams);
      if (!params.ok) {
        rejectUpgrade(socket, params.error, requestId);
        return;
      }
      requestIds.set(req, requestId);
      wss.handleUpgrade(req, socket, head, (ws) => {
        sessions.listen++;
        const session = new ListenSession(ws, params.config, {
          requestId,
          scripts,
          sttFinalDelayMs: opts.profile.sttFinalDelayMs,
          silenceTimeoutMs: opts.silenceTimeoutMs,
        });
        streams.add(session);
        ws.once("close", () => {
          sessions.listen--;
          streams.remove(session);
        });
      });
      return;
    }
    if (route === "flux") {
      const params = parseFluxQuery(url.searchParams);
      if (!params.ok) {
        rejectUpgrade(socket, params.error, requestId);
        return;
      }
      requestIds.set(req, requestId);
      wss.handleUpgrade(req, socket, head, (ws) => {
        sessions.flux++;
        const session = new FluxSession(ws, params.config, {
          requestId,
          scripts,
          eagerMs: opts.profile.fluxEagerMs,
          eotMs: opts.profile.fluxEotMs,
          silenceTimeoutMs: opts.silenceTimeoutMs,
        });
        streams.add(session);
        ws.once("close", () => {
          sessions.flux--;
          streams.remove(session);
        });
      });
      return;
    }
    const params = parseSpeakQuery(url.searchParams, "ws");
    if (!params.ok) {
      rejectUpgrade(socket, params.error, requestId);
      return;
    }
    requestIds.set(req, requestId);
    wss.handleUpgrade(req, socket, head, (ws) => {
      sessions.speak++;
      ws.once("close", () => sessions.speak--);
      new SpeakSession(ws, params.config, {
        requestId,
        synth,
        ttsFirstByteMs: opts.profile.ttsFirstByteMs,
        realtimeFactor: opts.profile.ttsRealtimeFactor,
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  const hostForUrl = opts.host === "::1" ? "[::1]" : opts.host;

  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    setScript(tag: string, lines: string[]): void {
      const parsed = ScriptBody.safeParse({ lines });
      if (!parsed.success) throw new Error(`setScript(${tag}): ${z.prettifyError(parsed.error)}`);
      scripts.set(tag, parsed.data.lines);
    },
    injectFault(fault: DeepgramFault): number {
      return streams.inject(DeepgramFaultSchema.parse(fault));
    },
    clearFaults(): void {
      streams.clear();
    },
    async close(): Promise<void> {
      loopDelay.disable();
      const clients = [...wss.clients];
      for (const ws of clients) if (ws.readyState === WebSocket.OPEN) ws.close(1001, "emulator shutting down");
      // Give close frames a moment to go out, then drop whatever is left.
      if (clients.length > 0) await sleep(100);
      for (const ws of clients) ws.terminate();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      wss.close();
    },
  };
}
