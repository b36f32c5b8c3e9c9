import fc from "fast-check";
import twilio from "twilio";
import { describe, expect, it } from "vitest";
import { signTwilioRequest } from "../../../emulators/twilio-caller/webhook.ts";

const { validateRequest } = twilio;

// Printable text including non-ASCII and astral characters (emoji), as form values and query strings carry.
const text = fc.string({ unit: "grapheme", maxLength: 24 });
const paramKey = fc.oneof(
  fc.constantFrom("CallSid", "From", "To", "Digits", "SpeechResult", "Caller", "AccountSid"),
  fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 12 }),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }),
);
const params = fc.dictionary(
  paramKey.filter((k) => k !== "__proto__"),
  fc.oneof(text, fc.array(text, { minLength: 1, maxLength: 4 })),
  { maxKeys: 12 },
);
const url = fc
  .record({
    scheme: fc.constantFrom("http", "https"),
    host: fc.constantFrom("example.com", "127.0.0.1", "api.aybiza.test", "localhost"),
    port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    path: fc.webPath(),
    query: fc.option(fc.webQueryParameters(), { nil: undefined }),
  })
  .map(({ scheme, host, port, path, query }) => {
    return `${scheme}://${host}${port === undefined ? "" : `:${port}`}${path || "/"}${query === undefined ? "" : `?${query}`}`;
  });
const unicodeQueryUrl = fc
  .tuple(fc.constantFrom("https://example.com/voice", "http://127.0.0.1:8787/v1/telephony/twilio/voice"), text, text)
  .map(([base, k, v]) => `${base}?${encodeURIComponent(k || "k")}=${encodeURIComponent(v)}`);
const token = fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 40 });

describe("X-Twilio-Signature from the simulated Twilio", () => {
  it("matches Twilio's published example", () => {
    const signature = signTwilioRequest("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", {
      CallSid: "CA1234567890ABCDE",
      Caller: "+12349013030",
      Digits: "1234",
      From: "+12349013030",
      To: "+18005551212",
    });
    expect(signature).toBe("0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    expect(signTwilioRequest("12345", "wss://example.com/media", {})).toBe("7PR3qMkpDyEJtMrVOY/LDyNq8J8=");
  });

  it("is accepted by the twilio package's validateRequest for any URL, port, query string and params", () => {
    fc.assert(
      fc.property(token, fc.oneof(url, unicodeQueryUrl), params, (authToken, u, p) => {
        const signature = signTwilioRequest(authToken, u, p);
        expect(validateRequest(authToken, signature, u, p as Record<string, string>)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it("is rejected by validateRequest when a param value, the URL or the token differs", () => {
    fc.assert(
      fc.property(token, url, params, text, (authToken, u, p, extra) => {
        const signature = signTwilioRequest(authToken, u, p);
        const tampered = { ...p, CallSid: `${typeof p.CallSid === "string" ? p.CallSid : ""}${extra}x` };
        expect(validateRequest(authToken, signature, u, tampered as Record<string, string>)).toBe(false);
        expect(
          validateRequest(authToken, signature, `${u}${u.includes("?") ? "&" : "?"}z=1`, p as Record<string, string>),
        ).toBe(false);
        expect(validateRequest(`${authToken}x`, signature, u, p as Record<string, string>)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});
