// Converse and ConverseStream: a request checked as the service checks it, answered by a deterministic policy or a
// per-tag script (or failed by an injected fault, up front or mid-stream), billed against the emulated prompt cache,
// and paced by the latency profile: the JSON reply, or the event stream frame by frame.
import { randomUUID } from "node:crypto";
import { lastUserText } from "./caller-words.ts";
import { BedrockError, validation } from "./errors.ts";
import { encodeEvent, encodeException } from "./eventstream.ts";
import { header, type RequestLike, type ResponseLike, readBody, sendError, sendJson, sleep } from "./http.ts";
import { latencyFor, type ModelLatencyTable } from "./latency.ts";
import { resolveModel } from "./models.ts";
import { messageContent, type ShapedOutput, shapeOutput, streamEvents } from "./output.ts";
import { type PlannedReply, planReply } from "./policy.ts";
import { validateConverseRequest } from "./request.ts";
import {
  type EmulatorState,
  FAULT_MESSAGES,
  type RecordedRequest,
  STREAM_EXCEPTION,
  type TokenUsage,
} from "./state.ts";

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

export interface ConverseContext {
  state: EmulatorState;
  latency: ModelLatencyTable;
}

export async function handleConverse(
  { state, latency }: ConverseContext,
  req: RequestLike,
  res: ResponseLike,
  operation: "Converse" | "ConverseStream",
  rawModelId: string,
): Promise<void> {
  const requestId = randomUUID();
  const started = performance.now();
  const entry = state.record({
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
  state.inFlight.add(controller);
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

    const fault = state.takeFault(model);
    if (fault && !(fault.midStream && operation === "ConverseStream")) {
      return fail(new BedrockError(fault.kind, FAULT_MESSAGES[fault.kind]));
    }

    const script = state.takeScript(request.scriptTag);
    const plan: PlannedReply = script
      ? {
          text: script.text ?? "",
          toolUses: script.toolUses ?? [],
          thinking: script.thinking ?? null,
          stopReason: script.stopReason ?? null,
        }
      : planReply(request);
    entry.source = script ? "script" : "policy";

    const accounting = state.cache.account(model.requestedId, model.info.minCacheTokens, {
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
    state.inFlight.delete(controller);
  }
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
