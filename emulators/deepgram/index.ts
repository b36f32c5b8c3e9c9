// Deepgram emulator: live STT (/v1/listen) and TTS (/v1/speak, WebSocket and REST) on one loopback port, so the
// official SDK and our media node can run offline. See docs/emulators.md for what it does and does not mimic.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { WebSocket, WebSocketServer } from "ws";
import { z } from "zod";
import { handleControl, ScriptBody } from "./control.ts";
import { FluxSession } from "./flux.ts";
import { rejectUpgrade, sendError, sendJson, sleep } from "./http.ts";
import { ListenSession } from "./listen.ts";
import { type DeepgramEmulatorOptions, resolveOptions } from "./options.ts";
import {
  credentialAccepted,
  INVALID_AUTH,
  parseFluxQuery,
  parseListenQuery,
  parseSpeakQuery,
  readCredential,
} from "./params.ts";
import { ScriptBook } from "./script.ts";
import { SpeakSession } from "./speak.ts";
import { handleRestSpeak } from "./speak-rest.ts";
import { type DeepgramFault, DeepgramFaultSchema, StreamRegistry } from "./streams.ts";
import { Synthesizer } from "./synth.ts";

export { endOfTurnConfidence, REFERENCE_EAGER_THRESHOLD, REFERENCE_EOT_THRESHOLD } from "./flux-confidence.ts";
export { splitPauses } from "./line.ts";
export {
  DEFAULT_TTS_REALTIME_FACTOR,
  type DeepgramEmulatorOptions,
  FLUX_EAGER_MS,
  FLUX_EOT_MS,
  LATENCY_PROFILES,
  type LatencyProfile,
} from "./options.ts";
export { FLUX_LIMITS } from "./params.ts";
export { DEFAULT_CALLER_SCRIPT } from "./script.ts";
export type { DeepgramFault } from "./streams.ts";

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

  // What the health route reports besides event-loop lag.
  const health = () => ({
    ok: true,
    service: "deepgram-emulator",
    profile: opts.profileName,
    latency: opts.profile,
    voice: synth.engine,
    connections: { ...sessions },
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
    if (await handleControl(req, res, url, { scripts, streams, loopDelay, health })) return;
    if (url.pathname === "/v1/speak" && req.method === "POST") {
      await handleRestSpeak(req, res, url, requestId, {
        apiKeys: opts.apiKeys,
        synth,
        ttsFirstByteMs: opts.profile.ttsFirstByteMs,
      });
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
