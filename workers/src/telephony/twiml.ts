// TwiML answers for the voice webhook. Every value that reaches the XML passes through one escaper, so a
// number, a token or a tenant-chosen sentence can never break out of its attribute or element.

const XML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

/**
 * Escapes text for an XML attribute value or element body. Characters XML 1.0 cannot carry at all
 * (C0 controls other than tab, newline and carriage return, lone surrogates, U+FFFE/U+FFFF) are dropped:
 * Twilio would reject the whole document over one of them, and the caller would hear an application error.
 */
export function escapeXml(value: string): string {
  return value
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "")
    .replace(/[&<>"']/g, (char) => XML_ESCAPES[char]!);
}

const PROLOG = '<?xml version="1.0" encoding="UTF-8"?>';

export interface StreamAnswer {
  /** `wss://` URL of the media node's Twilio endpoint. Twilio forbids a query string here. */
  url: string;
  /** Arrive at the media node in `start.customParameters`. */
  parameters: Readonly<Record<string, string>>;
  /** Absolute URL Twilio posts stream-started/stopped/error to. */
  statusCallback?: string | undefined;
  /**
   * Where Twilio goes when the stream ends (`<Redirect>` after `</Connect>`): the edge then decides whether the
   * call is over (a plain `<Hangup/>`) or lost its media node (a new `<Connect><Stream>` to another node).
   */
  redirectUrl?: string | undefined;
}

/** `<Connect><Stream>`: a bidirectional media stream to the chosen node, per-call data as `<Parameter>`s. */
export function connectStreamTwiml(answer: StreamAnswer): string {
  const url = new URL(answer.url);
  if (url.protocol !== "wss:" && url.protocol !== "ws:") throw new RangeError("stream URL must be wss://");
  if (url.search !== "") throw new RangeError("Twilio does not allow a query string in the stream URL");
  const attrs = [`url="${escapeXml(answer.url)}"`];
  if (answer.statusCallback) {
    attrs.push(`statusCallback="${escapeXml(answer.statusCallback)}"`, 'statusCallbackMethod="POST"');
  }
  const params = Object.entries(answer.parameters)
    .map(([name, value]) => `<Parameter name="${escapeXml(name)}" value="${escapeXml(value)}"/>`)
    .join("");
  const after = answer.redirectUrl ? `<Redirect method="POST">${escapeXml(answer.redirectUrl)}</Redirect>` : "";
  return `${PROLOG}<Response><Connect><Stream ${attrs.join(" ")}>${params}</Stream></Connect>${after}</Response>`;
}

export interface SayOptions {
  /** Twilio `<Say>` voice; the default `alice` handles every language Twilio speaks. */
  voice?: string | undefined;
  /** BCP 47, e.g. `en-US`, `de-DE`. */
  language?: string | undefined;
}

/** A short spoken sentence, then the line is closed: how the edge refuses a call it cannot take. */
export function sayAndHangUpTwiml(text: string, options: SayOptions = {}): string {
  const attrs = [`voice="${escapeXml(options.voice ?? "alice")}"`];
  if (options.language) attrs.push(`language="${escapeXml(options.language)}"`);
  return `${PROLOG}<Response><Say ${attrs.join(" ")}>${escapeXml(text)}</Say><Hangup/></Response>`;
}

/** An empty answer; Twilio accepts it for callbacks that expect no instructions (status, inbound SMS). */
export function emptyTwiml(): string {
  return `${PROLOG}<Response/>`;
}

/** Inbound SMS reply (`<Message>`), sent back on the same number. */
export function messageTwiml(body: string): string {
  return `${PROLOG}<Response><Message>${escapeXml(body)}</Message></Response>`;
}

/** Ends the call without a word: what the redirect after a stream gets when the call is over. */
export function hangUpTwiml(): string {
  return `${PROLOG}<Response><Hangup/></Response>`;
}
