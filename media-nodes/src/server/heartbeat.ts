// The node's registration with its region's directory on the edge: `POST {edge}/v1/media-nodes/heartbeat` every
// few seconds, signed as this node, with the URL carriers should stream to, the live call count, the capacity and
// whether it is draining. The edge treats a node it has not heard from for 15 s as gone, so a missed beat or two
// is harmless; a draining node beats at once so the edge stops sending it calls before the next tick.
import { signNodeRequest } from "../../../shared/media-node-auth.ts";
import type { Logger } from "./logger.ts";

export interface HeartbeatOptions {
  /** The edge's origin, e.g. `https://edge.example.com`. */
  edgeUrl: string;
  nodeId: string;
  secret: string;
  region: string;
  /** ws:// or wss:// base URL carriers open media streams on (the edge appends `/v1/telephony/twilio` …). */
  streamBaseUrl: string;
  /** Calls this node takes at most. */
  capacity: number;
  /** Read at every beat. */
  load: () => { activeCalls: number; draining: boolean };
  /** Default 5 s (the edge forgets a node after 15 s of silence). */
  intervalMs?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
  logger: Logger;
  now?: () => number;
}

export type BeatResult =
  | { ok: true }
  | { ok: false; status: number | null; reason: string /** For people: what is wrong and what to change. */ };

export interface HeartbeatLoop {
  /** Beats now (serialized with the timer's beats) and resolves with the edge's answer. */
  beat(): Promise<BeatResult>;
  /** Settles once the edge has accepted a beat. */
  readonly registered: Promise<void>;
  /** The last answer, undefined before the first. */
  readonly last: BeatResult | undefined;
  stop(): void;
}

export function startHeartbeat(opts: HeartbeatOptions): HeartbeatLoop {
  const target = `${opts.edgeUrl.replace(/\/+$/, "")}/v1/media-nodes/heartbeat`;
  const doFetch = opts.fetch ?? fetch;
  const now = opts.now ?? Date.now;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<BeatResult> = Promise.resolve({ ok: true });
  let last: BeatResult | undefined;
  let markRegistered: () => void = () => {};
  const registered = new Promise<void>((resolve) => {
    markRegistered = resolve;
  });

  const send = async (): Promise<BeatResult> => {
    const load = opts.load();
    const body = JSON.stringify({
      nodeId: opts.nodeId,
      region: opts.region,
      streamBaseUrl: opts.streamBaseUrl,
      activeCalls: load.activeCalls,
      capacity: opts.capacity,
      draining: load.draining,
      sentAt: now(),
    });
    try {
      const headers = await signNodeRequest({
        nodeId: opts.nodeId,
        secret: opts.secret,
        method: "POST",
        url: target,
        body,
      });
      const res = await doFetch(target, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
        signal: AbortSignal.timeout(opts.timeoutMs ?? 4_000),
      });
      if (res.ok) return { ok: true };
      const detail = await problemDetail(res);
      if (res.status === 401) {
        return {
          ok: false,
          status: 401,
          reason: `the edge refused this node's signature (${detail}): MEDIA_NODE_ID and MEDIA_NODE_SECRET must match an entry of the edge's MEDIA_NODE_SECRETS`,
        };
      }
      return { ok: false, status: res.status, reason: `the edge answered HTTP ${res.status}: ${detail}` };
    } catch (err) {
      return { ok: false, status: null, reason: `cannot reach the edge at ${target}: ${(err as Error).message}` };
    }
  };

  const beat = (): Promise<BeatResult> => {
    chain = chain.then(async () => {
      const result = await send();
      // Logged on changes only: a node that cannot reach the edge says so once, not every five seconds.
      if (result.ok && !last?.ok) {
        opts.logger.info("registered with the edge", {
          edge: opts.edgeUrl,
          region: opts.region,
          stream: opts.streamBaseUrl,
        });
        markRegistered();
      } else if (!result.ok && (last === undefined || last.ok || last.reason !== result.reason)) {
        opts.logger.error("heartbeat not accepted", { reason: result.reason });
      }
      last = result;
      return result;
    });
    return chain;
  };

  const tick = () => {
    if (stopped) return;
    void beat().finally(() => {
      if (stopped) return;
      timer = setTimeout(tick, opts.intervalMs ?? 5_000);
      timer.unref();
    });
  };
  tick();

  return {
    beat,
    registered,
    get last() {
      return last;
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

async function problemDetail(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { detail?: unknown; reason?: unknown };
    if (typeof body.detail === "string") return body.detail;
    if (typeof body.reason === "string") return body.reason;
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.slice(0, 200) || "no detail";
}
