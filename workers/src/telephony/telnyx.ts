// Telnyx Call Control: webhook events (JSON, Ed25519-signed) and the REST commands that answer them.
//
// Signature: `telnyx-signature-ed25519` is base64 Ed25519 over `${telnyx-timestamp}|${raw body}`, checked with
// the account's public key (base64, 32 raw bytes, from the Telnyx portal). The timestamp is Unix seconds and
// must be recent; the body is verified byte for byte before it is parsed.
import { z } from "zod";

export const TELNYX_SIGNATURE_HEADER = "telnyx-signature-ed25519";
export const TELNYX_TIMESTAMP_HEADER = "telnyx-timestamp";
/** Telnyx's SDKs accept five minutes of clock skew; so do we. */
export const TELNYX_TOLERANCE_MS = 300_000;

function base64ToBytes(value: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    const raw = atob(value.trim());
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  } catch {
    return undefined;
  }
}

const keyCache = new Map<string, Promise<CryptoKey>>();

function importTelnyxKey(publicKeyBase64: string): Promise<CryptoKey> {
  let key = keyCache.get(publicKeyBase64);
  if (!key) {
    const raw = base64ToBytes(publicKeyBase64);
    if (raw?.length !== 32) return Promise.reject(new Error("TELNYX_PUBLIC_KEY must be 32 bytes of base64"));
    key = crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
    keyCache.set(publicKeyBase64, key);
  }
  return key;
}

export type TelnyxSignatureVerdict = { ok: true } | { ok: false; reason: "missing" | "stale" | "invalid" };

export async function verifyTelnyxSignature(input: {
  publicKey: string;
  rawBody: string;
  signature: string | null;
  timestamp: string | null;
  nowMs: number;
}): Promise<TelnyxSignatureVerdict> {
  if (!input.signature || !input.timestamp) return { ok: false, reason: "missing" };
  if (!/^\d{1,12}$/.test(input.timestamp)) return { ok: false, reason: "invalid" };
  if (Math.abs(input.nowMs - Number(input.timestamp) * 1000) > TELNYX_TOLERANCE_MS)
    return { ok: false, reason: "stale" };
  const signature = base64ToBytes(input.signature);
  if (signature?.length !== 64) return { ok: false, reason: "invalid" };
  const key = await importTelnyxKey(input.publicKey);
  const message = new TextEncoder().encode(`${input.timestamp}|${input.rawBody}`);
  const valid = await crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
  return valid ? { ok: true } : { ok: false, reason: "invalid" };
}

const telnyxCallPayload = z.object({
  call_control_id: z.string().min(1),
  call_session_id: z.string().optional(),
  connection_id: z.string().optional(),
  from: z.string().default(""),
  to: z.string().default(""),
  direction: z.string().optional(),
  client_state: z.string().nullish(),
  hangup_cause: z.string().optional(),
});

export const telnyxWebhookSchema = z.object({
  data: z.object({
    id: z.string().min(1),
    event_type: z.string().min(1),
    occurred_at: z.string().optional(),
    payload: telnyxCallPayload,
  }),
});
export type TelnyxWebhook = z.infer<typeof telnyxWebhookSchema>;

/** Telnyx hangup causes mapped onto the call statuses our call records use (Twilio's vocabulary). */
export function statusForHangupCause(
  cause: string | undefined,
): "completed" | "busy" | "no-answer" | "failed" | "canceled" {
  switch (cause) {
    case "user_busy":
      return "busy";
    case "timeout":
    case "no_answer":
      return "no-answer";
    case "originator_cancel":
      return "canceled";
    case "call_rejected":
    case "unallocated_number":
    case "normal_temporary_failure":
      return "failed";
    default:
      return "completed";
  }
}

/** Opaque state Telnyx echoes on every later event of the call: base64 JSON, at most 4 kB. */
export function encodeClientState(state: Record<string, string>): string {
  // UTF-8 first: btoa takes only Latin-1 and throws on anything else.
  return btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(state))));
}

export function decodeClientState(value: string | null | undefined): Record<string, string> {
  if (!value) return {};
  try {
    const bytes = Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
    const parsed: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
    const result = z.record(z.string(), z.string()).safeParse(parsed);
    return result.success ? result.data : {};
  } catch {
    return {};
  }
}

export interface TelnyxCommand {
  /** Path under the API base, e.g. `/v2/calls/{id}/actions/answer`. */
  path: string;
  body: Record<string, unknown>;
}

/**
 * Answers the call and starts a bidirectional μ-law stream to the media node. The call token travels in
 * `client_state`, which Telnyx repeats in the stream's `start` message, because Telnyx has no `<Parameter>`.
 */
export function answerWithStream(callControlId: string, stream: { url: string; clientState: string }): TelnyxCommand {
  return {
    path: `/v2/calls/${encodeURIComponent(callControlId)}/actions/answer`,
    body: {
      stream_url: stream.url,
      stream_track: "inbound_track",
      stream_bidirectional_mode: "rtp",
      stream_bidirectional_codec: "PCMU",
      client_state: stream.clientState,
      command_id: `answer-${callControlId}`,
    },
  };
}

/** Answer first: Telnyx only speaks on an answered call. The spoken sentence follows on `call.answered`. */
export function answerForRefusal(callControlId: string, clientState: string): TelnyxCommand {
  return {
    path: `/v2/calls/${encodeURIComponent(callControlId)}/actions/answer`,
    // Its own command_id: Telnyx drops a command whose ID it has seen, and this answer may follow a failed
    // `answerWithStream` for the same call.
    body: { client_state: clientState, command_id: `answer-refusal-${callControlId}` },
  };
}

export function speak(callControlId: string, text: string, clientState: string): TelnyxCommand {
  return {
    path: `/v2/calls/${encodeURIComponent(callControlId)}/actions/speak`,
    body: { payload: text, voice: "female", language: "en-US", client_state: clientState },
  };
}

/**
 * Streams an answered call to another media node (the first one was lost): the same stream settings as the answer,
 * the new node's URL, and the resume token in `client_state`, which Telnyx repeats in the new stream's `start`.
 */
export function startStream(callControlId: string, stream: { url: string; clientState: string }): TelnyxCommand {
  return {
    path: `/v2/calls/${encodeURIComponent(callControlId)}/actions/streaming_start`,
    body: {
      stream_url: stream.url,
      stream_track: "inbound_track",
      stream_bidirectional_mode: "rtp",
      stream_bidirectional_codec: "PCMU",
      client_state: stream.clientState,
    },
  };
}

export function hangup(callControlId: string): TelnyxCommand {
  return { path: `/v2/calls/${encodeURIComponent(callControlId)}/actions/hangup`, body: {} };
}

export const DEFAULT_TELNYX_API_BASE = "https://api.telnyx.com";

/** Sends one Call Control command with the account's API key; throws when Telnyx does not accept it. */
export async function sendTelnyxCommand(
  env: { TELNYX_API_BASE?: string | undefined; TELNYX_API_KEY?: string | undefined },
  command: TelnyxCommand,
): Promise<void> {
  const base = (env.TELNYX_API_BASE ?? DEFAULT_TELNYX_API_BASE).replace(/\/$/, "");
  const response = await fetch(`${base}${command.path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${env.TELNYX_API_KEY ?? ""}`, "content-type": "application/json" },
    body: JSON.stringify(command.body),
  });
  if (!response.ok) throw new Error(`Telnyx answered ${response.status} to ${command.path}`);
}
