// The Bedrock Runtime emulator: Converse and ConverseStream over HTTP/2 cleartext (what the AWS SDK's
// default Node handler speaks to an http:// endpoint, with prior knowledge) and over HTTP/1.1 (what the
// SDK speaks with NodeHttpHandler, and curl). Both share one port: the first bytes of a connection say
// which, since every HTTP/2 connection opens with the "PRI * HTTP/2.0" preface.
//
// Requests are checked like the service checks them, answered by a deterministic policy or a per-tag
// script, paced by a latency profile, and billed against an emulated prompt cache. Faults can be injected
// (fail the next N requests, before or in the middle of the stream). Control is in-process through the
// returned handle, or out of process over the same port under /__emulator/ (see control.ts).
import { randomUUID } from "node:crypto";
import http, { type IncomingHttpHeaders } from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";
import { z } from "zod";
import { type CacheCheckpoint, PromptCache } from "./cache.ts";
import { BedrockError, ERROR_NAMESPACE, validation } from "./errors.ts";
import { encodeEvent, encodeException } from "./eventstream.ts";
import { type LatencyProfileName, latencyFor, type ModelLatencyTable, resolveLatencyTable } from "./latency.ts";
import { type ResolvedModel, resolveModel } from "./models.ts";
import { messageContent, type ShapedOutput, shapeOutput, streamEvents } from "./output.ts";
import { lastUserText, type PlannedReply, planReply, type StopReason } from "./policy.ts";
import { validateConverseRequest } from "./request.ts";

export interface BedrockEmulatorOptions {
  /** Loopback only: 127.0.0.1 (default), ::1 or localhost. */
  host?: string;
  /** Default `BEDROCK_EMULATOR_PORT` or 8092; 0 picks a free port. */
  port?: number;
  /** Default `EMULATOR_PROFILE` or "instant". */
  profile?: LatencyProfileName | ModelLatencyTable;
  /** Lifetime of a 5-minute prompt-cache entry (default 300 000); `1h` entries live 12 times as long. */
  cacheTtlMs?: number;
}

const FAULT_KINDS = [
  "ThrottlingException",
  "ServiceUnavailableException",
  "ModelNotReadyException",
  "InternalServerException",
  "ModelStreamErrorException",
  "ModelTimeoutException",
] as const;

export const FaultSchema = z.object({
  kind: z.enum(FAULT_KINDS),
  /** How many of the next matching requests fail. */
  count: z.number().int().min(1).max(1_000_000),
  /** Only requests for this model: an exact requested ID, or a base ID matching every profile of it. */
  modelId: z.string().min(1).optional(),
  /** Fail after the stream has started (ConverseStream), as an exception frame. Converse fails up front. */
  midStream: z.boolean().optional(),
});
export type BedrockFault = z.infer<typeof FaultSchema>;

export const ScriptedReplySchema = z.object({
  text: z.string().optional(),
  toolUses: z.array(z.object({ name: z.string().min(1).max(64), input: z.unknown() })).optional(),
  thinking: z.string().optional(),
  stopReason: z
    .enum([
      "end_turn",
      "tool_use",
      "max_tokens",
      "stop_sequence",
      "guardrail_intervened",
      "content_filtered",
      "malformed_model_output",
      "malformed_tool_use",
      "model_context_window_exceeded",
    ])
    .optional(),
});
export type ScriptedReply = z.infer<typeof ScriptedReplySchema>;

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  cacheReadInputTokens: number;
  cacheWriteInputTokens: number;
}

/** One request as the emulator saw and answered it. */
export interface RecordedRequest {
  requestId: string;
  operation: "Converse" | "ConverseStream";
  /** As sent in the path, URL-decoded. */
  modelId: string;
  /** Epoch milliseconds. */
  receivedAt: number;
  /** The parsed JSON body; null when it wasn't JSON. */
  body: unknown;
  scriptTag: string | null;
  lastUserText: string | null;
  /** Who wrote the reply; null when there was none (an error before the model). */
  source: "policy" | "script" | null;
  error: { type: string; message: string; midStream: boolean } | null;
  reply: {
    thinking: string | null;
    text: string;
    toolUses: { toolUseId: string; name: string; input: unknown }[];
    stopReason: StopReason;
  } | null;
  usage: TokenUsage | null;
  /** One entry per cache point, in prompt order. */
  cache: CacheCheckpoint[];
  /** Time to first token the latency profile applied. */
  ttftMs: number | null;
  cacheHit: boolean;
  /** The client went away before the reply was complete. */
  aborted: boolean;
}

export interface BedrockEmulator {
  url: string;
  port: number;
  /** Fail the next `count` matching requests. Faults queue; the first matching one with count left applies. */
  injectFault(fault: BedrockFault): void;
  /** Replies for requests whose `requestMetadata.scriptTag` is `tag`, consumed in order; then the policy answers. */
  setScript(tag: string, replies: ScriptedReply[]): void;
  /** Every request so far (a copy), oldest first. */
  requests(): RecordedRequest[];
  /** Forget faults, scripts, recorded requests and the prompt cache. */
  reset(): void;
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
const MAX_BODY_BYTES = 20 * 1024 * 1024;
// Bodies carry whole prompts; a long benchmark run must not grow without bound.
const MAX_RECORDS = 1_000;
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

const FAULT_MESSAGES: Record<BedrockFault["kind"], string> = {
  ThrottlingException: "Too many requests, please wait before trying again.",
  ServiceUnavailableException: "Bedrock is unable to process your request.",
  ModelNotReadyException:
    "Model is not ready for inference. Wait and try your request again. Refer to the AWS documentation for more details.",
  InternalServerException: "The system encountered an unexpected error during processing. Try your request again.",
  ModelStreamErrorException: "The model stream was interrupted. Try your request again.",
  ModelTimeoutException: "Model has timed out in processing the request. Try your request again.",
};

/** In-stream members of ConverseStreamOutput; faults without their own member arrive as model stream errors. */
const STREAM_EXCEPTION: Record<BedrockFault["kind"], { type: string; originalStatusCode?: number }> = {
  ThrottlingException: { type: "throttlingException" },
  ServiceUnavailableException: { type: "serviceUnavailableException" },
  InternalServerException: { type: "internalServerException" },
  ModelStreamErrorException: { type: "modelStreamErrorException", originalStatusCode: 500 },
  ModelNotReadyException: { type: "modelStreamErrorException", originalStatusCode: 429 },
  ModelTimeoutException: { type: "modelStreamErrorException", originalStatusCode: 408 },
};

// The parts of node:http and node:http2 (compat API) request/response objects this file uses.
interface RequestLike {
  method?: string | undefined;
  url?: string | undefined;
  headers: IncomingHttpHeaders;
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  on(event: "end" | "close", listener: () => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
}
interface ResponseLike {
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(chunk: Uint8Array): unknown;
  end(chunk?: Uint8Array | string): unknown;
  on(event: "close", listener: () => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
}

function header(req: RequestLike, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function sendJson(res: ResponseLike, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

function sendError(res: ResponseLike, error: BedrockError, requestId: string): void {
  sendJson(res, error.status, error.body(), {
    "x-amzn-requestid": requestId,
    "x-amzn-errortype": `${error.type}:${ERROR_NAMESPACE}`,
  });
}

function readBody(req: RequestLike): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("end", () =>
      size > MAX_BODY_BYTES
        ? reject(validation(`Request body is ${size} bytes; the limit is ${MAX_BODY_BYTES}.`))
        : resolve(Buffer.concat(chunks)),
    );
    req.on("error", reject);
  });
}

/**
 * SigV4 or a Bedrock API key must be present. The signature itself is not checked (any static
 * credentials work), but a credential scoped to another service is refused as the service refuses it.
 */
function checkAuth(req: RequestLike): BedrockError | null {
  const auth = header(req, "authorization");
  if (!auth) return new BedrockError("MissingAuthenticationTokenException", "Missing Authentication Token");
  if (auth.startsWith("Bearer ")) return null;
  if (!auth.startsWith("AWS4-HMAC-SHA256 ")) {
    return new BedrockError("IncompleteSignatureException", `Authorization header requires 'Credential' parameter.`);
  }
  const scope = /Credential=[^/,\s]+\/\d{8}\/([^/,\s]+)\/([^/,\s]+)\/aws4_request/.exec(auth);
  if (!scope) {
    return new BedrockError("IncompleteSignatureException", "Authorization header requires 'Credential' parameter.");
  }
  if (scope[2] !== "bedrock") {
    return new BedrockError("InvalidSignatureException", `Credential should be scoped to correct service: 'bedrock'. `);
  }
  return null;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

export async function startBedrockEmulator(options: BedrockEmulatorOptions = {}): Promise<BedrockEmulator> {
  const host = options.host ?? "127.0.0.1";
  if (!LOOPBACK.has(host)) throw new Error(`Bedrock emulator binds to loopback only, not ${host}`);
  const port = z
    .number()
    .int()
    .min(0)
    .max(65_535)
    .parse(options.port ?? Number(process.env.BEDROCK_EMULATOR_PORT ?? 8092));
  const latency = resolveLatencyTable(options.profile, process.env);
  const cacheTtlMs = z
    .number()
    .positive()
    .parse(options.cacheTtlMs ?? 300_000);

  const cache = new PromptCache(cacheTtlMs);
  let faults: { fault: BedrockFault; remaining: number }[] = [];
  const scripts = new Map<string, ScriptedReply[]>();
  let records: RecordedRequest[] = [];
  const inFlight = new Set<AbortController>();

  function injectFault(fault: BedrockFault): void {
    const parsed = FaultSchema.parse(fault);
    faults.push({ fault: parsed, remaining: parsed.count });
  }

  function setScript(tag: string, replies: ScriptedReply[]): void {
    scripts.set(tag, z.array(ScriptedReplySchema).parse(replies));
  }

  function takeFault(model: ResolvedModel): BedrockFault | null {
    const entry = faults.find(
      ({ fault, remaining }) =>
        remaining > 0 &&
        (fault.modelId === undefined || fault.modelId === model.requestedId || fault.modelId === model.info.baseId),
    );
    if (!entry) return null;
    entry.remaining--;
    faults = faults.filter((f) => f.remaining > 0);
    return entry.fault;
  }

  function takeScript(tag: string | null): ScriptedReply | null {
    if (tag === null) return null;
    const queue = scripts.get(tag);
    const next = queue?.shift();
    return next ?? null;
  }

  function record(entry: RecordedRequest): RecordedRequest {
    records.push(entry);
    if (records.length > MAX_RECORDS) records = records.slice(-MAX_RECORDS);
    return entry;
  }

  async function handleModel(
    req: RequestLike,
    res: ResponseLike,
    operation: "Converse" | "ConverseStream",
    rawModelId: string,
  ): Promise<void> {
    const requestId = randomUUID();
    const started = performance.now();
    const entry = record({
      requestId,
      operation,
      modelId: rawModelId,
      receivedAt: Date.now(),
      body: null,
      scriptTag: null,
      lastUserText: null,
      source: null,
      error: null,
      reply: null,
      usage: null,
      cache: [],
      ttftMs: null,
      cacheHit: false,
      aborted: false,
    });
    let streaming = false;
    const fail = (error: BedrockError, midStream = false) => {
      entry.error = { type: error.type, message: error.message, midStream: midStream || streaming };
      if (midStream) return;
      if (!streaming) return sendError(res, error, requestId);
      // Headers are out: the only way left to report is an exception frame.
      res.write(encodeException("internalServerException", { message: error.message }));
      res.end();
    };

    const controller = new AbortController();
    inFlight.add(controller);
    let finished = false;
    res.on("close", () => {
      if (!finished) {
        entry.aborted = true;
        controller.abort();
      }
    });
    res.on("error", () => controller.abort());
    try {
      const authError = checkAuth(req);
      const raw = await readBody(req);
      if (authError) return fail(authError);
      let modelId: string;
      try {
        modelId = decodeURIComponent(rawModelId);
      } catch {
        return fail(validation("The provided model identifier is invalid."));
      }
      entry.modelId = modelId;
      let json: unknown;
      try {
        json = JSON.parse(raw.toString("utf8"));
      } catch {
        return fail(validation("Malformed input request, please reformat your input and try again."));
      }
      entry.body = json;
      const model = resolveModel(modelId);
      const request = validateConverseRequest(json, model.info);
      entry.scriptTag = request.scriptTag;
      entry.lastUserText = lastUserText(request.messages) || null;

      const fault = takeFault(model);
      if (fault && !(fault.midStream && operation === "ConverseStream")) {
        return fail(new BedrockError(fault.kind, FAULT_MESSAGES[fault.kind]));
      }

      const script = takeScript(request.scriptTag);
      const plan: PlannedReply = script
        ? {
            text: script.text ?? "",
            toolUses: script.toolUses ?? [],
            thinking: script.thinking ?? null,
            stopReason: script.stopReason ?? null,
          }
        : planReply(request);
      entry.source = script ? "script" : "policy";

      const accounting = cache.account(model.requestedId, model.info.minCacheTokens, {
        tools: request.body.toolConfig?.tools ?? [],
        system: request.system,
        messages: request.messages,
      });
      entry.cache = accounting.checkpoints;
      entry.cacheHit = accounting.cacheReadInputTokens > 0;
      const pace = latencyFor(latency, model.requestedId, model.info.baseId, model.info.family);
      const ttftMs = entry.cacheHit ? pace.ttftCacheHitMs : pace.ttftMs;
      entry.ttftMs = ttftMs;

      const output = shapeOutput(plan, request.maxTokens, request.stopSequences);
      const usage: TokenUsage = {
        inputTokens: accounting.inputTokens,
        outputTokens: output.outputTokens,
        totalTokens:
          accounting.inputTokens +
          output.outputTokens +
          accounting.cacheReadInputTokens +
          accounting.cacheWriteInputTokens,
        cacheReadInputTokens: accounting.cacheReadInputTokens,
        cacheWriteInputTokens: accounting.cacheWriteInputTokens,
      };
      entry.usage = usage;
      entry.reply = replySummary(output);
      // The service reports cache fields when the request asked for caching.
      const usageBody: Record<string, unknown> =
        accounting.checkpoints.length > 0
          ? { ...usage, ...(accounting.cacheDetails.length ? { cacheDetails: accounting.cacheDetails } : {}) }
          : { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, totalTokens: usage.totalTokens };
      const msPerByte =
        pace.tokensPerSecond > 0 && Number.isFinite(pace.tokensPerSecond) ? 250 / pace.tokensPerSecond : 0;
      const dueAt = (atBytes: number) => started + ttftMs + atBytes * msPerByte;

      if (operation === "Converse") {
        await sleep(dueAt(output.outputBytes) - performance.now(), controller.signal);
        if (controller.signal.aborted) return;
        sendJson(
          res,
          200,
          {
            output: { message: { role: "assistant", content: messageContent(output) } },
            stopReason: output.stopReason,
            usage: usageBody,
            metrics: { latencyMs: Math.round(performance.now() - started) },
          },
          { "x-amzn-requestid": requestId },
        );
        return;
      }

      res.writeHead(200, { "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": requestId });
      streaming = true;
      const events = streamEvents(output);
      // A mid-stream fault lets the caller hear about half of the reply first, as a dropped stream would.
      // With nothing to say (an empty scripted reply), it breaks right after messageStart.
      const deltaIndexes = events.flatMap((e, i) => (e.delta ? [i] : []));
      const cutAfter = fault ? (deltaIndexes[Math.max(0, Math.floor(deltaIndexes.length / 2) - 1)] ?? 0) : -1;
      for (const [i, event] of events.entries()) {
        await sleep(dueAt(event.atBytes) - performance.now(), controller.signal);
        if (controller.signal.aborted) return;
        res.write(encodeEvent(event.type, event.payload));
        if (fault && i === cutAfter) {
          const ex = STREAM_EXCEPTION[fault.kind];
          const message = FAULT_MESSAGES[fault.kind];
          const payload =
            ex.originalStatusCode === undefined
              ? { message }
              : { message, originalStatusCode: ex.originalStatusCode, originalMessage: message };
          res.write(encodeException(ex.type, payload));
          fail(new BedrockError(fault.kind, message), true);
          finished = true;
          res.end();
          return;
        }
      }
      res.write(
        encodeEvent("metadata", {
          usage: usageBody,
          metrics: { latencyMs: Math.round(performance.now() - started) },
        }),
      );
      finished = true;
      res.end();
    } catch (error) {
      if (error instanceof BedrockError) return fail(error);
      const message = error instanceof Error ? error.message : String(error);
      fail(new BedrockError("InternalServerException", `Emulator error: ${message}`));
    } finally {
      finished = true;
      inFlight.delete(controller);
    }
  }

  async function handleControl(req: RequestLike, res: ResponseLike, path: string): Promise<void> {
    const method = req.method ?? "GET";
    const readJson = async (): Promise<unknown> => {
      const raw = await readBody(req);
      try {
        return JSON.parse(raw.toString("utf8") || "null");
      } catch {
        throw new Error("body is not JSON");
      }
    };
    try {
      if (path === "/__emulator/health" && method === "GET") return sendJson(res, 200, { ok: true });
      if (path === "/__emulator/faults" && method === "POST") {
        const fault = FaultSchema.safeParse(await readJson());
        if (!fault.success) return sendJson(res, 400, { message: z.prettifyError(fault.error) });
        injectFault(fault.data);
        return sendJson(res, 200, { ok: true });
      }
      if (path === "/__emulator/faults" && method === "DELETE") {
        faults = [];
        return sendJson(res, 200, { ok: true });
      }
      const script = /^\/__emulator\/scripts\/([^/]+)$/.exec(path);
      if (script?.[1] && (method === "PUT" || method === "POST")) {
        const replies = z.array(ScriptedReplySchema).safeParse(await readJson());
        if (!replies.success) return sendJson(res, 400, { message: z.prettifyError(replies.error) });
        setScript(decodeURIComponent(script[1]), replies.data);
        return sendJson(res, 200, { ok: true });
      }
      if (path === "/__emulator/requests" && method === "GET") return sendJson(res, 200, structuredClone(records));
      if (path === "/__emulator/reset" && method === "POST") {
        reset();
        return sendJson(res, 200, { ok: true });
      }
      return sendJson(res, 404, { message: `No control endpoint ${method} ${path}` });
    } catch (error) {
      return sendJson(res, 400, { message: error instanceof Error ? error.message : String(error) });
    }
  }

  function handle(req: RequestLike, res: ResponseLike): void {
    const path = new URL(req.url ?? "/", "http://emulator").pathname;
    if (path.startsWith("/__emulator/")) {
      handleControl(req, res, path).catch(() => {});
      return;
    }
    const route = /^\/model\/([^/]+)\/([a-z-]+)$/.exec(path);
    const operation =
      route?.[2] === "converse" ? "Converse" : route?.[2] === "converse-stream" ? "ConverseStream" : null;
    if (!route?.[1] || !operation || req.method !== "POST") {
      const known =
        route && ["invoke", "invoke-with-response-stream", "count-tokens", "apply-guardrail"].includes(route[2] ?? "");
      req.on("data", () => {});
      req.on("error", () => {});
      sendError(
        res,
        new BedrockError(
          "UnknownOperationException",
          known
            ? `The Bedrock emulator implements Converse and ConverseStream only, not ${route?.[2]}.`
            : `No operation at ${req.method} ${path}.`,
        ),
        randomUUID(),
      );
      return;
    }
    handleModel(req, res, operation, route[1]).catch(() => {});
  }

  function reset(): void {
    faults = [];
    scripts.clear();
    records = [];
    cache.clear();
  }

  const h2 = http2.createServer();
  h2.on("request", (req, res) => handle(req, res));
  h2.on("stream", (stream) => stream.on("error", () => {}));
  h2.on("sessionError", () => {});
  const h1 = http.createServer((req, res) => handle(req, res));
  h1.on("clientError", (_err, socket) => socket.destroy());

  const sockets = new Set<net.Socket>();
  const tcp = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, H2_PREFACE.length);
      const looksH2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (looksH2 && head.length < 3) return; // not enough to tell yet
      socket.off("data", onData);
      socket.pause();
      if (looksH2) h2.emit("connection", wrapForHttp2(socket, head));
      else {
        socket.unshift(head);
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  });

  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(port, host, () => {
      tcp.off("error", reject);
      resolve();
    });
  });
  const address = tcp.address();
  const boundPort = typeof address === "object" && address ? address.port : port;
  const urlHost = host.includes(":") ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${boundPort}`,
    port: boundPort,
    injectFault,
    setScript,
    requests: () => structuredClone(records),
    reset,
    close: () =>
      new Promise<void>((resolve) => {
        for (const controller of inFlight) controller.abort();
        tcp.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        h1.close();
        h2.close();
      }),
  };
}

function replySummary(output: ShapedOutput): NonNullable<RecordedRequest["reply"]> {
  let thinking: string | null = null;
  let text = "";
  const toolUses: { toolUseId: string; name: string; input: unknown }[] = [];
  for (const block of output.blocks) {
    if (block.kind === "reasoning") thinking = block.text;
    else if (block.kind === "text") text += block.text;
    else toolUses.push({ toolUseId: block.toolUseId, name: block.name, input: block.input });
  }
  return { thinking, text, toolUses, stopReason: output.stopReason };
}

/**
 * Hands an HTTP/2 connection whose first bytes were already read to the HTTP/2 server. Node 20's
 * Http2Session reads the socket handle directly and would miss unshifted bytes, so it gets a stream
 * that replays them and then relays the socket.
 */
function wrapForHttp2(socket: net.Socket, head: Buffer): Duplex {
  const relay = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end();
      callback();
    },
    destroy(error, callback) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  relay.push(head);
  socket.on("data", (chunk: Buffer) => {
    if (!relay.push(chunk)) socket.pause();
  });
  socket.on("end", () => relay.push(null));
  socket.on("close", () => relay.destroy());
  socket.on("error", (error) => relay.destroy(error));
  socket.resume();
  return relay;
}
