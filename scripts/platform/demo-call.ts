// One call through the real path: Twilio's signed voice webhook to the edge, its TwiML answer, the simulated
// caller streaming to the media node it names, the live feed of the call's CallLedger printed as it happens,
// and the status callback Twilio sends at the end.
import WebSocket from "ws";
import { type CallerStep, type CallReport, runCall, speechFor } from "../../emulators/twilio-caller/caller.ts";
import { sendStatusCallback } from "../../emulators/twilio-caller/status-callback.ts";
import { placeCallViaWebhook } from "../../emulators/twilio-caller/webhook.ts";
import { type LiveMessage, LiveMessageSchema } from "./printer.ts";
import { PlatformError } from "./processes.ts";

/** Speech fixtures (test/fixtures/speech): an order question, an hours question, goodbye. */
export const DEMO_SCRIPT = ["order-status", "opening-hours", "thanks-goodbye"] as const;

export interface DemoCallOptions {
  edgeUrl: string;
  apiKey: string;
  /** Signs the webhooks, as Twilio does with the account's auth token. */
  authToken: string;
  from: string;
  to: string;
  script?: readonly string[];
  /**
   * The Deepgram emulator's URL when it is the STT: the caller's lines are registered under the call's ID (the
   * tag the media node passes), so the emulator "hears" exactly them. Real Deepgram recognises the audio itself.
   */
  deepgramEmulatorUrl?: string | undefined;
  onLive?: (message: LiveMessage) => void;
}

export interface DemoCallResult {
  callId: string;
  callSid: string;
  report: CallReport;
  live: LiveMessage[];
  /** The edge's answer to the status callback. */
  statusCallback: number;
}

export async function placeDemoCall(opts: DemoCallOptions): Promise<DemoCallResult> {
  const lines = opts.script ?? DEMO_SCRIPT;
  const steps: CallerStep[] = [];
  const texts: string[] = [];
  for (const line of lines) {
    const speech = await speechFor(line);
    texts.push(speech.text);
    steps.push({ line: { audio: speech.audio, text: speech.text, name: line } });
  }

  const placed = await placeCallViaWebhook({
    voiceUrl: `${opts.edgeUrl}/v1/telephony/twilio/voice`,
    authToken: opts.authToken,
    from: opts.from,
    to: opts.to,
    caller: { replyTimeoutMs: 20_000 },
  });
  if (placed.outcome === "refused") {
    throw new PlatformError(`the edge refused the demo call: "${placed.spoken.join(" ") || "(hung up)"}"`);
  }
  if (placed.outcome === "error") throw new PlatformError(`the demo call failed: ${placed.message}`);
  const callId = placed.stream.parameters.callId;
  if (!callId) {
    await placed.caller.hangUp();
    throw new PlatformError("the edge's TwiML carries no callId parameter");
  }

  if (opts.deepgramEmulatorUrl) {
    await fetch(`${opts.deepgramEmulatorUrl}/__emulator/scripts/${encodeURIComponent(callId)}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ lines: texts }),
    });
  }

  const live: LiveMessage[] = [];
  const feed = subscribe(opts.edgeUrl, opts.apiKey, callId, (message) => {
    live.push(message);
    opts.onLive?.(message);
  });
  try {
    const report = await runCall(placed.caller, { script: steps, waitForGreeting: true });
    // Twilio calls back once the stream is gone; by then the node has usually reported the end itself, and the
    // feed reads in the order things happened. The callback goes anyway if that report is slow.
    await feed.until((m) => m.type === "event" && m.event.type === "call.ended", 5_000);
    const status = await sendStatusCallback({
      statusUrl: `${opts.edgeUrl}/v1/telephony/twilio/status`,
      authToken: opts.authToken,
      callSid: placed.callSid,
      accountSid: placed.accountSid,
      status: "completed",
      duration: report.durationMs / 1000,
      from: opts.from,
      to: opts.to,
    });
    await feed.until((m) => m.type === "state" && m.state === "ended", 5_000);
    return { callId, callSid: placed.callSid, report, live, statusCallback: status.status };
  } finally {
    feed.close();
  }
}

interface Feed {
  until(check: (m: LiveMessage) => boolean, timeoutMs: number): Promise<boolean>;
  close(): void;
}

/** The call's live feed over WebSocket, authenticated with the tenant's API key. */
export function subscribe(edgeUrl: string, apiKey: string, callId: string, onMessage: (m: LiveMessage) => void): Feed {
  const seen: LiveMessage[] = [];
  const waiters = new Set<() => void>();
  const ws = new WebSocket(`${edgeUrl.replace(/^http/, "ws")}/v1/calls/${encodeURIComponent(callId)}/live`, {
    headers: { authorization: `Bearer ${apiKey}` },
  });
  ws.on("message", (data) => {
    let parsed: ReturnType<typeof LiveMessageSchema.safeParse>;
    try {
      parsed = LiveMessageSchema.safeParse(JSON.parse(String(data)));
    } catch {
      return;
    }
    if (!parsed.success) return;
    seen.push(parsed.data);
    onMessage(parsed.data);
    for (const w of waiters) w();
  });
  // A feed that cannot open costs the printout, not the call: the turns are still read from the API after.
  ws.on("error", () => {});
  return {
    until(check, timeoutMs) {
      if (seen.some(check)) return Promise.resolve(true);
      return new Promise((resolve) => {
        const waiter = () => {
          if (!seen.some(check)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          resolve(true);
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          resolve(false);
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    close() {
      ws.close();
    },
  };
}
