// WebSocket close codes the media node uses (4000–4999 is the application range). Each close carries a
// short reason text too (at most 123 bytes, the protocol's limit), so a carrier log or a test shows why.
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  /** RFC 6455: a text message that is not UTF-8 (uWS refuses these itself; see frame-limits.ts). */
  invalidPayload: 1007,
  messageTooBig: 1009,
  internalError: 1011,
  protocolError: 4400,
  unauthorized: 4401,
  forbidden: 4403,
  notFound: 4404,
  startTimeout: 4408,
  conflict: 4409,
  unsupportedMedia: 4415,
  overCapacity: 4429,
  slowConsumer: 4508,
  unavailable: 4503,
} as const;

/** Trims a reason to the 123 bytes a close frame can carry, on a character boundary. */
export function closeReason(text: string): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= 123) return text;
  let out = text;
  while (new TextEncoder().encode(out).length > 120) out = out.slice(0, -1);
  return `${out}...`;
}
