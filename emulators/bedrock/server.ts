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
import { z } from "zod";
import { PromptCache } from "./cache.ts";
import { handleConverse } from "./converse.ts";
import { BedrockError } from "./errors.ts";
import { listenHttp1And2, type RequestLike, type ResponseLike, readBody, sendError, sendJson } from "./http.ts";
import { type LatencyProfileName, type ModelLatencyTable, resolveLatencyTable } from "./latency.ts";
import {
  type BedrockFault,
  EmulatorState,
  FaultSchema,
  type RecordedRequest,
  type ScriptedReply,
  ScriptedReplySchema,
} from "./state.ts";

export {
  type BedrockFault,
  FaultSchema,
  type RecordedRequest,
  type ScriptedReply,
  ScriptedReplySchema,
  type TokenUsage,
} from "./state.ts";

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

  const state = new EmulatorState(new PromptCache(cacheTtlMs));
  const context = { state, latency };

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
        state.injectFault(fault.data);
        return sendJson(res, 200, { ok: true });
      }
      if (path === "/__emulator/faults" && method === "DELETE") {
        state.clearFaults();
        return sendJson(res, 200, { ok: true });
      }
      const script = /^\/__emulator\/scripts\/([^/]+)$/.exec(path);
      if (script?.[1] && (method === "PUT" || method === "POST")) {
        const replies = z.array(ScriptedReplySchema).safeParse(await readJson());
        if (!replies.success) return sendJson(res, 400, { message: z.prettifyError(replies.error) });
        state.setScript(decodeURIComponent(script[1]), replies.data);
        return sendJson(res, 200, { ok: true });
      }
      if (path === "/__emulator/requests" && method === "GET") return sendJson(res, 200, state.requests());
      if (path === "/__emulator/reset" && method === "POST") {
        state.reset();
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
    handleConverse(context, req, res, operation, route[1]).catch(() => {});
  }

  const server = await listenHttp1And2(host, port, handle);
  const urlHost = host.includes(":") ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${server.port}`,
    port: server.port,
    injectFault: (fault) => state.injectFault(fault),
    setScript: (tag, replies) => state.setScript(tag, replies),
    requests: () => state.requests(),
    reset: () => state.reset(),
    close: () => {
      for (const controller of state.inFlight) controller.abort();
      return server.close();
    },
  };
}
