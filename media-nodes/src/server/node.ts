// The media node: uWebSockets.js serving the call endpoints, health, readiness and metrics, plus the
// node-wide pieces every call shares (frame clock, pre-synthesized lines, admission, LLM fallback).
// startMediaNode() is what main.ts runs and what tests run in-process on port 0.

import type { HttpResponse, TemplatedApp, us_listen_socket, WebSocket } from "uWebSockets.js";
import { performance } from "node:perf_hooks";
import type { AgentRuntimeConfig } from "../../../shared/agent-config.ts";
import { type CallTokenVerifier, importCallTokenVerifier, NonceLedger } from "../../../shared/call-token.ts";
import type { Transport } from "../../../shared/session-events.ts";
import { Admission, type AdmittedCall } from "../admission/admission.ts";
import type { AgentDirectory } from "../admission/agent-directory.ts";
import type { CheckpointSource } from "../admission/http-checkpoint-source.ts";
import type { MediaNodeConfig } from "../config.ts";
import { createMediaMetrics, type MediaMetrics } from "../metrics/media-metrics.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../metrics/registry.ts";
import { AudioCache } from "../pipeline/audio-cache.ts";
import { Call, type ToolRunnerPort } from "../pipeline/call.ts";
import { FrameClock } from "../pipeline/frame-clock.ts";
import { type LlmFallbackOptions, llmWithFallback, ttsWithFallback } from "../providers/fallback.ts";
import type { LlmProvider, SttProvider, TtsProvider } from "../providers/types.ts";
import type { SessionSink } from "../session-sink/types.ts";
import { HttpEdgeActions } from "../tools/edge-actions.ts";
import { ToolRunner } from "../tools/runner.ts";
import { EdgeToolSigningKeys, type ToolSigningKeys, UNSIGNED } from "../tools/signing-keys.ts";
import { TelnyxCodec } from "../transports/telnyx.ts";
import { TwilioCodec } from "../transports/twilio.ts";
import type { TransportCodec } from "../transports/types.ts";
import { WebCodec } from "../transports/web.ts";
import { CloseCode } from "./close-codes.ts";
import { Connection, type SocketData, type StartInfo } from "./connection.ts";
import { countNativeRefusal, refuseOversizedMessage, UWS_MAX_PAYLOAD_BYTES } from "./frame-limits.ts";
import { createLogger, type Logger } from "./logger.ts";
import { loadUws } from "./uws.ts";

export interface MediaNodeDeps {
  stt: SttProvider;
  llm: LlmProvider;
  tts: TtsProvider;
  agents: AgentDirectory;
  sink: SessionSink;
  /** Where a call moved here from a lost node gets its checkpoint (the edge). Absent: such a call starts afresh. */
  checkpoints?: CheckpointSource;
  /** Default: built from config.callTokenPublicKeys. */
  verifier?: CallTokenVerifier;
  ledger?: NonceLedger;
  /** Default: the webhook/built-in ToolRunner signing with each tenant's secret from the edge. */
  createToolRunner?: (agent: AgentRuntimeConfig) => ToolRunnerPort;
  /** Default: fetched from the edge (config.sessionSink); unsigned without an edge. */
  toolSigning?: ToolSigningKeys;
  fetch?: typeof fetch;
  logger?: Logger;
  /** Epoch clock for token expiry (tests move it). */
  now?: () => number;
  llmFallback?: LlmFallbackOptions;
  /** How long a socket may stay open without a start message. Default 10 s. */
  startTimeoutMs?: number;
}

export interface DrainResult {
  /** Calls that finished on their own before the deadline. */
  finished: number;
  /** Calls ended at the deadline (with a spoken goodbye where possible). */
  endedAtDeadline: number;
  ms: number;
}

export interface MediaNodeStats {
  activeCalls: number;
  connections: number;
  callsAdmitted: number;
  draining: boolean;
  framesSent: number;
  frameLatenessP50Ms: number;
  frameLatenessP99Ms: number;
  clockStalls: number;
  rssBytes: number;
  heapUsedBytes: number;
}

export interface MediaNodeHandle {
  /** http://host:port; WebSocket endpoints are ws://host:port/v1/... */
  url: string;
  port: number;
  metrics: MediaMetrics;
  /** Live calls, for tests and diagnostics. */
  calls(): Call[];
  drain(deadlineMs?: number): Promise<DrainResult>;
  close(): Promise<void>;
  stats(): MediaNodeStats;
}

const ROUTES: Record<string, Transport> = {
  "/v1/telephony/twilio": "twilio",
  "/v1/telephony/telnyx": "telnyx",
  "/v1/web": "web",
};

function codecFor(transport: Transport): TransportCodec {
  if (transport === "twilio") return new TwilioCodec();
  if (transport === "telnyx") return new TelnyxCodec();
  return new WebCodec();
}

export async function startMediaNode(config: MediaNodeConfig, deps: MediaNodeDeps): Promise<MediaNodeHandle> {
  const { uws, native } = loadUws({ allowFallback: config.allowUwsFallback });
  const logger = deps.logger ?? createLogger(config.logLevel, { node: config.nodeId });
  if (!native)
    logger.warn("running on the uWebSockets.js JavaScript fallback (MEDIA_ALLOW_UWS_FALLBACK=1); capacity is degraded");
  const toolSigning: ToolSigningKeys =
    deps.toolSigning ??
    (config.sessionSink
      ? new EdgeToolSigningKeys({
          baseUrl: config.sessionSink.url,
          nodeId: config.nodeId,
          secret: config.sessionSink.secret,
          ...(deps.fetch ? { fetch: deps.fetch } : {}),
        })
      : UNSIGNED);
  if (toolSigning === UNSIGNED)
    logger.warn("no edge configured: webhook tools are sent unsigned (tenants' tool-signing secrets live at the edge)");

  const sessions = new Set<Call>();
  const connections = new Set<Connection>();
  const metrics = createMediaMetrics({ activeCalls: () => sessions.size });
  const verifier = deps.verifier ?? (await importCallTokenVerifier(config.callTokenPublicKeys));
  const admission = new Admission({
    verifier,
    ledger: deps.ledger ?? new NonceLedger(),
    agents: deps.agents,
    region: config.region,
    ...(deps.checkpoints ? { checkpoints: deps.checkpoints } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  });
  const clock = new FrameClock({
    onError: (client, error) => {
      // A pacer that throws belongs to one call: end that call, keep the clock going for the rest.
      for (const s of sessions) if (s.pacer === client) s.end("internal-error", String(error));
    },
  });
  const audioCache = new AudioCache(logger);
  const llm = llmWithFallback(deps.llm, deps.llmFallback);
  const toolRunners = new WeakMap<AgentRuntimeConfig, ToolRunnerPort>();
  // Built-ins that act on the call (transfer, SMS, verification, handoff) are carried out by the edge the
  // session events go to, signed the same way.
  const edgeActions = config.sessionSink
    ? new HttpEdgeActions({
        baseUrl: config.sessionSink.url,
        nodeId: config.nodeId,
        secret: config.sessionSink.secret,
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
      })
    : undefined;
  const toolRunnerFor = (agent: AgentRuntimeConfig): ToolRunnerPort => {
    let runner = toolRunners.get(agent);
    if (!runner) {
      runner =
        deps.createToolRunner?.(agent) ??
        new ToolRunner({
          tools: agent.tools,
          signing: toolSigning,
          edge: edgeActions,
          ...(deps.fetch ? { fetch: deps.fetch } : {}),
        });
      toolRunners.set(agent, runner);
    }
    return runner;
  };
  let draining = false;
  let ready = false;
  let callsAdmitted = 0;
  let drainWaiter: (() => void) | undefined;

  const connectionDeps = {
    admission,
    metrics,
    logger,
    startTimeoutMs: deps.startTimeoutMs ?? 10_000,
    clock,
    onClosed: (c: Connection) => {
      connections.delete(c);
    },
    createCall: (call: AdmittedCall, connection: Connection, start: StartInfo) => createCall(call, connection, start),
  };

  function createCall(call: AdmittedCall, connection: Connection, start: StartInfo): Call {
    callsAdmitted += 1;
    metrics.callsTotal.inc({ transport: connection.codec.kind });
    const session = new Call(
      {
        claims: call.claims,
        agent: call.agent,
        prefix: call.prefix,
        transport: connection.codec.kind,
        link: connection,
        carrier: start.carrier,
        preStart: start.preStart,
        ...(call.resume ? { resume: call.resume } : {}),
      },
      {
        stt: deps.stt,
        llm,
        tts: ttsWithFallback(deps.tts, { fallbackVoice: call.agent.fallbackVoice }),
        toolRunner: toolRunnerFor(call.agent),
        sink: deps.sink,
        metrics,
        clock,
        audioCache,
        logger,
        nodeId: config.nodeId,
        deadAirMs: config.deadAirMs,
        lines: config.lines,
        handOff: async (claims) => {
          const target = await admission.resolve(claims);
          return target.ok ? { ...target, toolRunner: toolRunnerFor(target.agent) } : target;
        },
        onEnded: (s) => {
          sessions.delete(s);
          if (sessions.size === 0) drainWaiter?.();
        },
      },
    );
    sessions.add(session);
    return session;
  }

  const app: TemplatedApp = uws.App();
  const text = (res: HttpResponse, status: string, body: string, type = "text/plain; charset=utf-8") => {
    res.cork(() => {
      res.writeStatus(status).writeHeader("content-type", type).writeHeader("cache-control", "no-store").end(body);
    });
  };

  for (const [path, transport] of Object.entries(ROUTES)) {
    app.ws<SocketData>(path, {
      compression: uws.DISABLED,
      // Above our own limit (frame-limits.ts), so an oversized message gets a 1009 close rather than a dropped socket.
      maxPayloadLength: UWS_MAX_PAYLOAD_BYTES,
      idleTimeout: 60,
      maxBackpressure: 1024 * 1024,
      upgrade: (res, req, context) => {
        const key = req.getHeader("sec-websocket-key");
        const protocol = req.getHeader("sec-websocket-protocol");
        const extensions = req.getHeader("sec-websocket-extensions");
        if (draining || !ready) {
          metrics.upgradesRefused.inc({ reason: draining ? "draining" : "not-ready" });
          return text(
            res,
            "503 Service Unavailable",
            draining ? "media node is draining; place the call on another node\n" : "media node is not ready\n",
          );
        }
        if (connections.size >= config.maxCalls) {
          metrics.upgradesRefused.inc({ reason: "capacity" });
          return text(res, "503 Service Unavailable", "media node is at capacity\n");
        }
        const remote = Buffer.from(res.getRemoteAddressAsText()).toString();
        res.cork(() => {
          res.upgrade<SocketData>({ transport, remote }, key, protocol, extensions, context);
        });
      },
      open: (ws: WebSocket<SocketData>) => {
        const data = ws.getUserData();
        const connection = new Connection(ws, codecFor(data.transport), connectionDeps);
        data.connection = connection;
        connections.add(connection);
      },
      message: (ws, message, isBinary) => {
        const connection = ws.getUserData().connection;
        if (refuseOversizedMessage(message, connection, metrics.badMessages)) return;
        connection?.onMessage(message, isBinary);
      },
      drain: (ws) => {
        ws.getUserData().connection?.onDrain();
      },
      close: (ws, code, message) => {
        countNativeRefusal(code, message, metrics.badMessages);
        ws.getUserData().connection?.onClose();
      },
    });
  }

  app.get("/healthz", (res) => text(res, "200 OK", "ok\n"));
  app.get("/readyz", (res) => {
    if (draining) return text(res, "503 Service Unavailable", "draining\n");
    if (!ready) return text(res, "503 Service Unavailable", "not ready\n");
    text(res, "200 OK", "ready\n");
  });
  app.get("/metrics", (res) => {
    metrics.draining.set(draining ? 1 : 0);
    text(res, "200 OK", metrics.registry.render(), PROMETHEUS_CONTENT_TYPE);
  });
  app.any("/*", (res) => text(res, "404 Not Found", "not found\n"));

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(config.host, config.port, (socket) => {
      if (socket) resolve(socket);
      else reject(new Error(`media node could not listen on ${config.host}:${config.port} (in use or not permitted)`));
    });
  });
  const port = uws.us_socket_local_port(listenSocket as unknown as Parameters<typeof uws.us_socket_local_port>[0]);
  ready = true;
  let listening = true;
  const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  logger.info("media node listening", { url, region: config.region, native });

  const stopListening = () => {
    if (!listening) return;
    listening = false;
    uws.us_listen_socket_close(listenSocket);
  };

  return {
    url,
    port,
    metrics,
    calls: () => [...sessions],
    async drain(deadlineMs = config.drainDeadlineMs): Promise<DrainResult> {
      const started = performance.now();
      draining = true;
      metrics.draining.set(1);
      logger.info("draining", { activeCalls: sessions.size, deadlineMs });
      const before = sessions.size;
      // Sockets that never became calls have nothing to finish.
      for (const c of [...connections]) if (!c.call) c.end(CloseCode.goingAway, "media node is draining");
      if (sessions.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadlineMs);
          timer.unref();
          drainWaiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      drainWaiter = undefined;
      const remaining = [...sessions];
      await Promise.allSettled(remaining.map((s) => s.endWithGoodbye()));
      await deps.sink.flush(5_000);
      const result = {
        finished: before - remaining.length,
        endedAtDeadline: remaining.length,
        ms: Math.round(performance.now() - started),
      };
      logger.info("drained", { ...result });
      return result;
    },
    async close(): Promise<void> {
      draining = true;
      stopListening();
      for (const s of [...sessions])
        s.end("drain-deadline", "node closing", CloseCode.goingAway, "media node shutting down");
      for (const c of [...connections]) c.end(CloseCode.goingAway, "media node shutting down");
      clock.stop();
      metrics.close();
      await deps.sink.flush(2_000);
    },
    stats(): MediaNodeStats {
      const lateness = metrics.frameLateness.snapshot();
      const mem = process.memoryUsage();
      return {
        activeCalls: sessions.size,
        connections: connections.size,
        callsAdmitted,
        draining,
        framesSent: lateness.count,
        frameLatenessP50Ms: lateness.quantile(0.5),
        frameLatenessP99Ms: lateness.quantile(0.99),
        clockStalls: clock.stalls,
        rssBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
      };
    },
  };
}
