// The media-stream wire format, per carrier: what the caller sends (Twilio camelCase with counters as strings,
// Telnyx snake_case) and what it accepts back. Anything the server sends outside the schema is what Twilio reports
// as error 31924 and ignores, so decoding returns a reason rather than throwing.
import { randomBytes, randomUUID } from "node:crypto";
import type WebSocket from "ws";
import { z } from "zod";
import type { Provider } from "./types.ts";

const hex32 = () => randomBytes(16).toString("hex");
export const newCallSid = () => `CA${hex32()}`;
export const newStreamSid = () => `MZ${hex32()}`;
export const newAccountSid = () => `AC${hex32()}`;

// What the media node may send back.
const serverMessageSchema = z.discriminatedUnion("event", [
  z.object({
    event: z.literal("media"),
    streamSid: z.string().optional(),
    stream_id: z.string().optional(),
    media: z.object({ payload: z.string() }),
  }),
  z.object({
    event: z.literal("mark"),
    streamSid: z.string().optional(),
    stream_id: z.string().optional(),
    mark: z.object({ name: z.string() }),
  }),
  z.object({ event: z.literal("clear"), streamSid: z.string().optional(), stream_id: z.string().optional() }),
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export interface Ids {
  accountSid: string;
  callSid: string;
  streamSid: string;
  callSessionId: string;
}

// The wire shape of each message, per carrier. Twilio: camelCase, numeric counters as strings. Telnyx: snake_case.
export interface Dialect {
  connected(): object;
  start(params: Record<string, string>, from: string, to: string): object;
  media(seq: number, chunk: number, timestamp: number, payload: string): object;
  mark(seq: number, name: string): object;
  dtmf(seq: number, digit: string): object;
  stop(seq: number): object;
  streamIdOf(m: ServerMessage): string | undefined;
  requiresStreamId: boolean;
}

function twilioDialect(ids: Ids): Dialect {
  // Bound once per stream: a new stream gets a new StreamSid and a new dialect.
  const streamSid = ids.streamSid;
  return {
    connected: () => ({ event: "connected", protocol: "Call", version: "1.0.0" }),
    start: (params) => ({
      event: "start",
      sequenceNumber: "1",
      start: {
        accountSid: ids.accountSid,
        streamSid,
        callSid: ids.callSid,
        tracks: ["inbound"],
        customParameters: params,
        mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
      },
      streamSid,
    }),
    media: (seq, chunk, timestamp, payload) => ({
      event: "media",
      sequenceNumber: String(seq),
      media: { track: "inbound", chunk: String(chunk), timestamp: String(timestamp), payload },
      streamSid,
    }),
    mark: (seq, name) => ({ event: "mark", sequenceNumber: String(seq), streamSid, mark: { name } }),
    // Twilio names the track "inbound_track" here but "inbound" on media.
    dtmf: (seq, digit) => ({
      event: "dtmf",
      streamSid,
      sequenceNumber: String(seq),
      dtmf: { track: "inbound_track", digit },
    }),
    stop: (seq) => ({
      event: "stop",
      sequenceNumber: String(seq),
      stop: { accountSid: ids.accountSid, callSid: ids.callSid },
      streamSid,
    }),
    streamIdOf: (m) => m.streamSid,
    requiresStreamId: true,
  };
}

function telnyxDialect(ids: Ids): Dialect {
  const streamId = ids.streamSid;
  return {
    connected: () => ({ event: "connected", version: "1.0.0" }),
    start: (params, from, to) => ({
      event: "start",
      sequence_number: "1",
      start: {
        call_control_id: ids.callSid,
        call_session_id: ids.callSessionId,
        from,
        to,
        custom_parameters: params,
        media_format: { encoding: "PCMU", sample_rate: 8000, channels: 1 },
      },
      stream_id: streamId,
    }),
    media: (seq, chunk, timestamp, payload) => ({
      event: "media",
      sequence_number: String(seq),
      media: { track: "inbound", chunk: String(chunk), timestamp: String(timestamp), payload },
      stream_id: streamId,
    }),
    mark: (seq, name) => ({ event: "mark", sequence_number: String(seq), stream_id: streamId, mark: { name } }),
    dtmf: (seq, digit) => ({
      event: "dtmf",
      sequence_number: String(seq),
      stream_id: streamId,
      occurred_at: new Date().toISOString(),
      dtmf: { digit },
    }),
    stop: (seq) => ({
      event: "stop",
      sequence_number: String(seq),
      stream_id: streamId,
      stop: { call_control_id: ids.callSid },
    }),
    streamIdOf: (m) => m.stream_id,
    requiresStreamId: false,
  };
}

export function dialectFor(provider: Provider, ids: Ids): Dialect {
  return provider === "telnyx" ? telnyxDialect(ids) : twilioDialect(ids);
}

/** A stream SID of the carrier's shape: Twilio `MZ…`, Telnyx a UUID. */
export function newStreamIdFor(provider: Provider): string {
  return provider === "telnyx" ? randomUUID() : newStreamSid();
}

/** The call's identities, as the carrier would make them where the options name none. */
export function newIds(
  provider: Provider,
  given: { accountSid?: string | undefined; callSid?: string | undefined; streamSid?: string | undefined },
): Ids {
  const telnyx = provider === "telnyx";
  return {
    accountSid: given.accountSid ?? newAccountSid(),
    callSid: given.callSid ?? (telnyx ? `v3:${randomBytes(16).toString("base64url")}` : newCallSid()),
    streamSid: given.streamSid ?? newStreamIdFor(provider),
    callSessionId: randomUUID(),
  };
}

/**
 * One message from the server, checked as the carrier checks it: JSON text, of a known event, for this stream.
 * Returns what was wrong (to report as the carrier's 31924) instead of the message when it would be ignored.
 */
export function decodeServerMessage(
  data: WebSocket.RawData,
  isBinary: boolean,
  dialect: Dialect,
  streamSid: string,
): { message: ServerMessage } | { ignored: string } {
  if (isBinary) return { ignored: "31924: binary WebSocket frame (the carrier accepts JSON text only); ignored" };
  let json: unknown;
  try {
    json = JSON.parse(data.toString());
  } catch {
    return { ignored: "31924: message is not valid JSON; ignored" };
  }
  const parsed = serverMessageSchema.safeParse(json);
  if (!parsed.success) {
    const event = typeof json === "object" && json && "event" in json ? String(json.event) : "(none)";
    return { ignored: `31924: invalid message (event ${event}): ${parsed.error.issues[0]?.message ?? ""}; ignored` };
  }
  const message = parsed.data;
  const streamId = dialect.streamIdOf(message);
  if (streamId === undefined ? dialect.requiresStreamId : streamId !== streamSid) {
    return { ignored: `${message.event} message for stream ${streamId ?? "(missing)"}, not ${streamSid}; ignored` };
  }
  return { message };
}

/**
 * A `media` payload as audio. `ignored` when it is not base64 (dropped); `warning` when it plays but would sound
 * wrong on a real line (a WAV header the carrier plays as clicks).
 */
export function decodeMediaPayload(payload: string): { audio: Uint8Array; warning?: string } | { ignored: string } {
  if (!BASE64.test(payload)) return { ignored: "31924: media payload is not valid base64; ignored" };
  const audio = new Uint8Array(Buffer.from(payload, "base64"));
  if (audio.length >= 4 && String.fromCharCode(audio[0]!, audio[1]!, audio[2]!, audio[3]!) === "RIFF") {
    return { audio, warning: "31924: media payload starts with a WAV header (the carrier plays it as clicks)" };
  }
  return { audio };
}
