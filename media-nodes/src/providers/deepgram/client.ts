// One place that builds the official Deepgram client, so STT and TTS agree on the base URL and on
// turning the SDK's own reconnect off (our sessions reconnect themselves and know what to resend).
import { DeepgramClient } from "@deepgram/sdk";

export const DEEPGRAM_DEFAULT_BASE_URL = "wss://api.deepgram.com";

/** The REST (http) and WebSocket (ws) forms of one base URL, whichever form it was given in. */
export function deepgramUrls(baseUrl: string): { rest: string; ws: string } {
  const url = new URL(baseUrl);
  const secure = url.protocol === "https:" || url.protocol === "wss:";
  if (!["http:", "https:", "ws:", "wss:"].includes(url.protocol)) {
    throw new Error(`Deepgram base URL must be http(s) or ws(s), got ${baseUrl}`);
  }
  const rest = `${secure ? "https:" : "http:"}//${url.host}${url.pathname.replace(/\/$/, "")}`;
  const ws = `${secure ? "wss:" : "ws:"}//${url.host}${url.pathname.replace(/\/$/, "")}`;
  return { rest, ws };
}

export function createDeepgramClient(apiKey: string, baseUrl: string = DEEPGRAM_DEFAULT_BASE_URL): DeepgramClient {
  const { rest, ws } = deepgramUrls(baseUrl);
  return new DeepgramClient({
    apiKey,
    // Split REST and WebSocket explicitly rather than relying on `ws` mapping http→ws.
    environment: { base: rest, production: ws, agent: ws, agentRest: rest },
    reconnect: false,
    // REST retries would double a pre-synthesis's latency on a dead host; the caller decides instead.
    maxRetries: 0,
  });
}

/** Close codes whose reason says the request itself is wrong: reconnecting would fail the same way. */
export function isFatalClose(code: number, reason: string): boolean {
  return reason.startsWith("DATA-") || code === 1008 || code === 1002 || code === 4001 || code === 4003;
}

/** Handshake failures that retrying cannot fix (bad key, bad parameters). */
export function isFatalHandshake(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String((error as { message?: unknown })?.message ?? error);
  return /\b(400|401|403)\b/.test(message);
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (error && typeof error === "object" && "message" in error) return String((error as { message: unknown }).message);
  return String(error);
}

/** Waits for an SDK socket's handshake, for at most `timeoutMs` ("handshake timed out" after that). */
export async function handshake(socket: { waitForOpen(): Promise<unknown> }, timeoutMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      socket.waitForOpen(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("handshake timed out")), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
