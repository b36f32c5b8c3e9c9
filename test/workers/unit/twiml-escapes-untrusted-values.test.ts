import { describe, expect, it } from "vitest";
import { connectStreamTwiml, escapeXml, sayAndHangUpTwiml } from "../../../workers/src/telephony/twiml.ts";

// workerd has no DOMParser; a strict enough reader for our own output: every attribute value and text node
// must contain no raw markup characters.
function attributeValues(xml: string): string[] {
  return [...xml.matchAll(/="([^"]*)"/g)].map((m) => m[1] ?? "");
}

describe("TwiML answers", () => {
  it("connects the stream with each per-call value as a Parameter", () => {
    const xml = connectStreamTwiml({
      url: "wss://media-1.example.com/v1/telephony/twilio",
      parameters: { token: "v1.kid.payload.sig", callId: "call_abc" },
    });
    expect(xml).toContain('<Stream url="wss://media-1.example.com/v1/telephony/twilio">');
    expect(xml).toContain('<Parameter name="token" value="v1.kid.payload.sig"/>');
    expect(xml).toContain('<Parameter name="callId" value="call_abc"/>');
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?><Response><Connect>')).toBe(true);
  });

  it("keeps hostile values inside their attribute", () => {
    const hostile = `"/><Redirect>https://evil.example</Redirect><Parameter name="x" value="&'<>`;
    const xml = connectStreamTwiml({ url: "wss://m.example.com/s", parameters: { note: hostile } });
    expect(xml).not.toContain("<Redirect>");
    for (const value of attributeValues(xml)) expect(value).not.toMatch(/[<>"]/);
    expect(xml).toContain("&lt;Redirect&gt;");
  });

  it("drops characters XML cannot carry instead of producing a document Twilio rejects", () => {
    expect(escapeXml("a\u0000b\u0007c\ud800d")).toBe("abcd");
    expect(escapeXml("tab\tnew\nline")).toBe("tab\tnew\nline");
  });

  it("refuses a stream URL with a query string, which Twilio would reject at call time", () => {
    expect(() => connectStreamTwiml({ url: "wss://m.example.com/s?token=x", parameters: {} })).toThrow(/query string/);
    expect(() => connectStreamTwiml({ url: "https://m.example.com/s", parameters: {} })).toThrow(/wss/);
  });

  it("puts the redirect Twilio follows when the stream ends after </Connect>, escaped", () => {
    const xml = connectStreamTwiml({
      url: "wss://m.example.com/s",
      parameters: {},
      redirectUrl: "https://edge.example.com/v1/telephony/twilio/redirect?callId=call_1&x=<y>",
    });
    expect(xml).toContain(
      '</Connect><Redirect method="POST">https://edge.example.com/v1/telephony/twilio/redirect?callId=call_1&amp;x=&lt;y&gt;</Redirect></Response>',
    );
  });

  it("speaks a sentence and hangs up", () => {
    const xml = sayAndHangUpTwiml("Sorry & goodbye <now>", { language: "en-US" });
    expect(xml).toContain('<Say voice="alice" language="en-US">Sorry &amp; goodbye &lt;now&gt;</Say><Hangup/>');
  });
});
