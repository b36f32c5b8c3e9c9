// Encoder for `application/vnd.amazon.eventstream`, the binary framing of ConverseStream responses
// (smithy `amazon-eventstream.rst`). Written here rather than borrowed from the SDK so that the SDK's
// own decoder, used in the tests, checks this encoder instead of agreeing with itself.
//
//   uint32 total_length | uint32 headers_length | uint32 prelude_crc (of the first 8 bytes)
//   headers | payload | uint32 message_crc (of everything before it)
//
// All integers big-endian; CRC32 is the IEEE/zlib one.
import { crc32 } from "node:zlib";

const HEADER_TYPE_STRING = 7;
const PRELUDE_BYTES = 12;
const TRAILER_BYTES = 4;
const MAX_PAYLOAD_BYTES = 24 * 1024 * 1024;
const MAX_HEADERS_BYTES = 128 * 1024;

/** Headers in the order they should appear on the wire. Only string-typed values are needed here. */
export type EventStreamHeaders = ReadonlyArray<readonly [name: string, value: string]>;

function encodeHeaders(headers: EventStreamHeaders): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    const nameBytes = Buffer.from(name, "utf8");
    const valueBytes = Buffer.from(value, "utf8");
    if (nameBytes.length > 255) throw new RangeError(`event-stream header name too long: ${name}`);
    if (valueBytes.length > 0xffff) throw new RangeError(`event-stream header value too long: ${name}`);
    const head = Buffer.alloc(1 + nameBytes.length + 1 + 2);
    head.writeUInt8(nameBytes.length, 0);
    nameBytes.copy(head, 1);
    head.writeUInt8(HEADER_TYPE_STRING, 1 + nameBytes.length);
    head.writeUInt16BE(valueBytes.length, 2 + nameBytes.length);
    parts.push(head, valueBytes);
  }
  return Buffer.concat(parts);
}

/** One complete event-stream message. */
export function encodeMessage(headers: EventStreamHeaders, payload: Uint8Array): Buffer {
  const headerBytes = encodeHeaders(headers);
  if (headerBytes.length > MAX_HEADERS_BYTES) throw new RangeError("event-stream headers exceed 128 KB");
  if (payload.length > MAX_PAYLOAD_BYTES) throw new RangeError("event-stream payload exceeds 24 MB");
  const total = PRELUDE_BYTES + headerBytes.length + payload.length + TRAILER_BYTES;
  const out = Buffer.alloc(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(headerBytes.length, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
  headerBytes.copy(out, PRELUDE_BYTES);
  Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).copy(out, PRELUDE_BYTES + headerBytes.length);
  out.writeUInt32BE(crc32(out.subarray(0, total - TRAILER_BYTES)), total - TRAILER_BYTES);
  return out;
}

/** A `:message-type event` frame, e.g. `contentBlockDelta`, with a JSON payload. */
export function encodeEvent(eventType: string, payload: unknown): Buffer {
  return encodeMessage(
    [
      [":event-type", eventType],
      [":content-type", "application/json"],
      [":message-type", "event"],
    ],
    Buffer.from(JSON.stringify(payload), "utf8"),
  );
}

/** A modeled in-stream error (`:message-type exception`), e.g. `throttlingException`. */
export function encodeException(exceptionType: string, payload: unknown): Buffer {
  return encodeMessage(
    [
      [":exception-type", exceptionType],
      [":content-type", "application/json"],
      [":message-type", "exception"],
    ],
    Buffer.from(JSON.stringify(payload), "utf8"),
  );
}
