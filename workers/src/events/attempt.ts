// One delivery attempt: POST the event body, signed, to the endpoint, with a hard timeout, no redirects followed.
// Returns what happened; never throws (a tenant's endpoint failing is data, not an error of ours).
import { webhookHeaders } from "./signing.ts";

export const DEFAULT_ATTEMPT_TIMEOUT_MS = 15_000;

export interface AttemptResult {
  ok: boolean;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
}

export async function attemptDelivery(input: {
  url: string;
  eventId: string;
  body: string;
  secrets: readonly string[];
  timeoutMs: number;
  fetch?: typeof fetch;
}): Promise<AttemptResult> {
  const started = Date.now();
  const headers = await webhookHeaders(input.secrets, input.eventId, started, input.body);
  try {
    const res = await (input.fetch ?? fetch)(input.url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "aybiza-webhooks/1", ...headers },
      body: input.body,
      // A redirect is a failure: the signed body goes only where the tenant said.
      redirect: "manual",
      signal: AbortSignal.timeout(input.timeoutMs),
    });
    // The body is not needed; cancel it so a huge or endless one costs nothing.
    await res.body?.cancel().catch(() => undefined);
    const latencyMs = Date.now() - started;
    const ok = res.status >= 200 && res.status < 300;
    return { ok, statusCode: res.status, latencyMs, error: ok ? null : `HTTP ${res.status}` };
  } catch (thrown) {
    const latencyMs = Date.now() - started;
    const timedOut = thrown instanceof Error && (thrown.name === "TimeoutError" || thrown.name === "AbortError");
    const message = timedOut
      ? `no answer within ${input.timeoutMs} ms`
      : thrown instanceof Error
        ? thrown.message.slice(0, 200)
        : String(thrown).slice(0, 200);
    return { ok: false, statusCode: null, latencyMs, error: message };
  }
}
