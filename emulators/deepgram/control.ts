// The emulator's own routes under /__emulator/, not Deepgram's: faults to inject into live streams, the caller's
// script per tag, and health (profile, open connections, event-loop lag) for a test or bench to read.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { IntervalHistogram } from "node:perf_hooks";
import { z } from "zod";
import { readBody, sendJson } from "./http.ts";
import type { ScriptBook } from "./script.ts";
import { DeepgramFaultSchema, type StreamRegistry } from "./streams.ts";

export const ScriptBody = z.object({ lines: z.array(z.string().trim().min(1).max(2000)).max(1000) });

export interface ControlState {
  scripts: ScriptBook;
  streams: StreamRegistry;
  loopDelay: IntervalHistogram;
  /** What the health route reports besides event-loop lag. */
  health: () => Record<string, unknown>;
}

/** Answers a /__emulator/ request; false when the path is none of them. */
export async function handleControl(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  state: ControlState,
): Promise<boolean> {
  const { scripts, streams, loopDelay } = state;
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
        return true;
      }
      const parsed = DeepgramFaultSchema.safeParse(body);
      if (!parsed.success) {
        sendJson(res, 400, { err_code: "INVALID_REQUEST_BODY", err_msg: z.prettifyError(parsed.error) });
        return true;
      }
      sendJson(res, 200, { ...parsed.data, streams: streams.inject(parsed.data) });
      return true;
    }
    if (req.method === "DELETE") {
      streams.clear();
      res.writeHead(204).end();
      return true;
    }
    if (req.method === "GET") {
      sendJson(res, 200, { faults: streams.faults });
      return true;
    }
    sendJson(res, 405, { err_code: "METHOD_NOT_ALLOWED", err_msg: "Use POST, GET or DELETE." });
    return true;
  }

  if (url.pathname === "/__emulator/health" && req.method === "GET") {
    const lag = {
      p50Ms: loopDelay.percentile(50) / 1e6,
      p99Ms: loopDelay.percentile(99) / 1e6,
      maxMs: loopDelay.max / 1e6,
    };
    if (url.searchParams.get("reset") === "1") loopDelay.reset();
    sendJson(res, 200, { ...state.health(), eventLoop: lag });
    return true;
  }
  if (scriptMatch?.[1]) {
    const tag = decodeURIComponent(scriptMatch[1]);
    if (req.method === "PUT") {
      let body: unknown;
      try {
        body = JSON.parse((await readBody(req, 1024 * 1024)).toString("utf8"));
      } catch {
        sendJson(res, 400, { err_code: "INVALID_REQUEST_BODY", err_msg: 'Body must be JSON {"lines": string[]}.' });
        return true;
      }
      const parsed = ScriptBody.safeParse(body);
      if (!parsed.success) {
        sendJson(res, 400, { err_code: "INVALID_REQUEST_BODY", err_msg: z.prettifyError(parsed.error) });
        return true;
      }
      scripts.set(tag, parsed.data.lines);
      sendJson(res, 200, { tag, lines: parsed.data.lines.length });
      return true;
    }
    if (req.method === "GET") {
      sendJson(res, 200, { tag, remaining: scripts.remaining(tag) });
      return true;
    }
    if (req.method === "DELETE") {
      scripts.delete(tag);
      res.writeHead(204).end();
      return true;
    }
    sendJson(res, 405, { err_code: "METHOD_NOT_ALLOWED", err_msg: "Use PUT, GET or DELETE." });
    return true;
  }
  return false;
}
