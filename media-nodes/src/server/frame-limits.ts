// Messages the media node refuses before any codec reads them, and how each refusal ends the socket.
//
// uWebSockets.js enforces `maxPayloadLength` and the UTF-8 validity of text messages natively, before any JS runs:
// it drops the TCP connection without a close frame (the peer sees 1006) and reports only code 1006 and a reason
// text ("Received too big message", "Received invalid UTF-8") to the close handler. So:
//  - oversize: uWS's limit is set well above ours (UWS_MAX_PAYLOAD_BYTES), and a message over MAX_MESSAGE_BYTES is
//    refused here with a real close frame, 1009 (message too big). Only a flood beyond uWS's own limit is dropped.
//  - invalid UTF-8: uWS has no option to hand the frame to us or to close with 1007, so the peer sees 1006. We
//    count it (and a flood beyond uWS's limit) from the close handler's reason, so no refusal escapes the metric.
import { CloseCode } from "./close-codes.ts";

/** Largest legitimate message: one second of 16 kHz PCM from a browser, plus JSON slack. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** uWS's own limit: above it uWS drops the connection itself. 16 × ours, so any honest mistake gets a 1009. */
export const UWS_MAX_PAYLOAD_BYTES = 16 * MAX_MESSAGE_BYTES;

interface BadMessageCounter {
  inc(labels: { reason: string }): void;
}

interface Closable {
  end(code: number, reason: string): void;
}

/**
 * True (and the socket closed with 1009, the refusal counted) when `message` is over MAX_MESSAGE_BYTES; the caller
 * then drops it. Called first in the WebSocket `message` handler.
 */
export function refuseOversizedMessage(
  message: ArrayBuffer,
  connection: Closable | undefined,
  badMessages: BadMessageCounter,
): boolean {
  if (message.byteLength <= MAX_MESSAGE_BYTES) return false;
  badMessages.inc({ reason: "message-too-big" });
  connection?.end(CloseCode.messageTooBig, `message of ${message.byteLength} bytes; the limit is ${MAX_MESSAGE_BYTES}`);
  return true;
}

/** The reasons uWS gives when it drops a connection for what the peer sent (uWebSockets WebSocketProtocol.h). */
const NATIVE_REFUSALS: Record<string, string> = {
  "Received too big message": "message-too-big",
  "Received invalid UTF-8": "invalid-utf8",
};

/** Counts a connection uWS dropped for a bad message (code 1006 with its reason). Called in the `close` handler. */
export function countNativeRefusal(code: number, message: ArrayBuffer, badMessages: BadMessageCounter): void {
  if (code !== 1006 || message.byteLength === 0) return;
  const reason = NATIVE_REFUSALS[Buffer.from(message).toString("utf8")];
  if (reason) badMessages.inc({ reason });
}
