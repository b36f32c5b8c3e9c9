// Opening the media stream's WebSocket as the carrier does (optionally signed with X-Twilio-Signature over the
// stream URL and no parameters), with each way it can fail phrased for a person rather than as a stack trace.
import WebSocket from "ws";
import { signTwilioRequest } from "./signature.ts";
import { CallerError } from "./types.ts";

export interface StreamSocketOptions {
  headers?: Record<string, string> | undefined;
  authToken?: string | undefined;
  connectTimeoutMs: number;
}

/**
 * Resolves with the open socket, with no listeners left on it; rejects with a CallerError. `created` gets the socket
 * while it is still connecting, so a hang-up meanwhile can abort the handshake.
 */
export async function openStreamSocket(
  url: string,
  options: StreamSocketOptions,
  created?: (ws: WebSocket) => void,
): Promise<WebSocket> {
  if (!/^wss?:\/\//i.test(url)) throw new CallerError(`stream URL must be ws:// or wss://, got ${url}`, "EURL");
  const headers: Record<string, string> = { ...options.headers };
  if (options.authToken) headers["X-Twilio-Signature"] = signTwilioRequest(options.authToken, url, {});
  const ws = new WebSocket(url, {
    headers,
    handshakeTimeout: options.connectTimeoutMs,
    perMessageDeflate: false,
  });
  created?.(ws);
  await new Promise<void>((resolve, reject) => {
    const fail = (err: CallerError) => {
      ws.removeAllListeners();
      ws.on("error", () => {});
      ws.terminate();
      reject(err);
    };
    ws.once("open", () => {
      ws.removeAllListeners();
      resolve();
    });
    ws.once("unexpected-response", (_req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      fail(
        new CallerError(
          `${url} refused the media stream: HTTP ${status} ${res.statusMessage ?? ""}`.trim(),
          `HTTP${status}`,
        ),
      );
    });
    ws.once("error", (err: NodeJS.ErrnoException) => {
      if (/timed out/i.test(err.message)) {
        fail(new CallerError(`no WebSocket answer from ${url} within ${options.connectTimeoutMs} ms`, "ETIMEDOUT"));
      } else fail(describeConnectError(url, err));
    });
  });
  return ws;
}

function describeConnectError(url: string, err: NodeJS.ErrnoException): CallerError {
  switch (err.code) {
    case "ECONNREFUSED":
      return new CallerError(`nothing is listening at ${url}; start the platform with npm start`, "ECONNREFUSED");
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new CallerError(`cannot resolve the host of ${url}`, err.code);
    case "ECONNRESET":
      return new CallerError(`${url} closed the connection during the WebSocket upgrade`, err.code);
    default:
      return new CallerError(`cannot open ${url}: ${err.message}`, err.code ?? "ECONNECT");
  }
}
