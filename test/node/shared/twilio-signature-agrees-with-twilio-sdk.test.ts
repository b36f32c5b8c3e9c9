import { createHash } from "node:crypto";
import querystring from "node:querystring";
import fc from "fast-check";
import { getExpectedTwilioSignature, validateRequest, validateRequestWithBody } from "twilio/lib/webhooks/webhooks.js";
import { describe, expect, it } from "vitest";
import {
  computeTwilioSignature,
  twilioBodySha256,
  validateTwilioSignature,
  validateTwilioSignatureWithBody,
} from "../../../shared/twilio-signature.ts";

type Params = Record<string, string | string[]>;

const authToken = fc.oneof(
  fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 32, maxLength: 32 }),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }),
);

/** Characters that URL normalisation or Node's legacy querystring treat specially, plus plain ones. */
const urlChar = fc.constantFrom(..."abcXYZ019-._~'()!*$,;:@ +é😀", "%", "%20", "%27", "%2B", "%E2%82%AC", "=");
const urlText = (max: number) => fc.array(urlChar, { maxLength: max }).map((chars) => chars.join(""));

interface GeneratedUrl {
  url: string;
  /** The same URL with its port written out if it had none, or dropped if it had one. */
  portToggled: string;
}

const twilioUrl: fc.Arbitrary<GeneratedUrl> = fc
  .record({
    scheme: fc.constantFrom("http", "https"),
    host: fc.domain(),
    port: fc.oneof(fc.constant(undefined), fc.constant("default"), fc.integer({ min: 1, max: 65_535 })),
    path: fc.array(urlText(8), { maxLength: 4 }),
    query: fc.option(
      fc.array(
        fc
          .tuple(urlText(6), urlText(10), fc.boolean())
          .map(([key, value, encode]) =>
            encode ? `${encodeURIComponent(key)}=${encodeURIComponent(value)}` : `${key}=${value}`,
          ),
        { maxLength: 5 },
      ),
      { nil: undefined },
    ),
  })
  .map(({ scheme, host, port, path, query }) => {
    const defaultPort = scheme === "https" ? 443 : 80;
    const rest = `/${path.join("/")}${query === undefined ? "" : `?${query.join("&")}`}`;
    const explicit = port === "default" ? defaultPort : port;
    const url = `${scheme}://${host}${explicit === undefined ? "" : `:${explicit}`}${rest}`;
    const portToggled = `${scheme}://${host}${explicit === undefined ? `:${defaultPort}` : ""}${rest}`;
    return { url, portToggled };
  });

const value = fc.string({ unit: "grapheme", maxLength: 12 });
const params: fc.Arbitrary<Params> = fc
  .dictionary(
    fc.string({ unit: "grapheme", maxLength: 12 }).filter((key) => key !== "__proto__"),
    fc.oneof(value, fc.array(value, { maxLength: 4 })),
    { maxKeys: 8, noNullPrototype: true },
  )
  .map((dict) => ({ ...dict }));

/** What Node's legacy `querystring` makes of the URL's query, done with Node's own module. */
function legacyQuery(url: string): string {
  const at = url.indexOf("?");
  if (at === -1 || at === url.length - 1) return url;
  return `${url.slice(0, at)}?${querystring.stringify(querystring.parse(url.slice(at + 1)))}`;
}

describe("X-Twilio-Signature", () => {
  it("matches the published examples", async () => {
    const params = {
      CallSid: "CA1234567890ABCDE",
      Caller: "+12349013030",
      Digits: "1234",
      From: "+12349013030",
      To: "+18005551212",
    };
    const url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    expect(await computeTwilioSignature("12345", url, params)).toBe("0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    expect(await validateTwilioSignature("12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", url, params)).toBe(true);
    expect(
      await validateTwilioSignature("12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", url, { ...params, Digits: "1235" }),
    ).toBe(false);
    // Media Streams upgrade: the wss:// URL from <Stream url>, no params.
    expect(await computeTwilioSignature("12345", "wss://example.com/media")).toBe("7PR3qMkpDyEJtMrVOY/LDyNq8J8=");
    expect(await validateTwilioSignature("12345", "7PR3qMkpDyEJtMrVOY/LDyNq8J8=", "wss://example.com/media")).toBe(
      true,
    );
    expect(await validateTwilioSignature("12345", "7PR3qMkpDyEJtMrVOY/LDyNq8J8=", "https://example.com/media")).toBe(
      false,
    );
  });

  it("is computed exactly as the twilio SDK computes it", async () => {
    await fc.assert(
      fc.asyncProperty(authToken, twilioUrl, params, async (token, { url }, form) => {
        expect(await computeTwilioSignature(token, url, form)).toBe(getExpectedTwilioSignature(token, url, form));
      }),
      { numRuns: 400 },
    );
  });

  it("accepts and refuses exactly what the SDK's validateRequest does", async () => {
    const signedAs = fc.constantFrom("as-is", "port-toggled", "normalized", "legacy-query", "other-params", "random");
    await fc.assert(
      fc.asyncProperty(
        authToken,
        twilioUrl,
        params,
        signedAs,
        fc.base64String({ minLength: 28, maxLength: 28 }),
        async (token, { url, portToggled }, form, how, randomSignature) => {
          const normalized = new URL(url).toString();
          const signature = {
            "as-is": () => getExpectedTwilioSignature(token, url, form),
            "port-toggled": () => getExpectedTwilioSignature(token, portToggled, form),
            normalized: () => getExpectedTwilioSignature(token, normalized, form),
            "legacy-query": () => getExpectedTwilioSignature(token, legacyQuery(normalized), form),
            "other-params": () => getExpectedTwilioSignature(token, url, { ...form, Extra: "1" }),
            random: () => randomSignature,
          }[how]();
          const sdk = validateRequest(token, signature, url, form);
          expect(await validateTwilioSignature(token, signature, url, form)).toBe(sdk);
          if (how === "as-is" || how === "port-toggled") expect(sdk).toBe(true);
        },
      ),
      { numRuns: 600 },
    );
  });

  it("reads repeated form fields from URLSearchParams the way the SDK reads arrays", async () => {
    await fc.assert(
      fc.asyncProperty(
        authToken,
        twilioUrl,
        fc.array(fc.tuple(value, value), { maxLength: 10 }),
        async (token, { url }, pairs) => {
          const body = new URLSearchParams(pairs);
          // No prototype: a field named "__proto__" must become a property, not replace the prototype.
          const asRecord: Params = Object.create(null);
          for (const [key, v] of pairs) {
            // hasOwn: fast-check likes keys such as "valueOf" that a plain object already answers to.
            const seen = Object.hasOwn(asRecord, key) ? asRecord[key] : undefined;
            asRecord[key] = seen === undefined ? [v] : [...(Array.isArray(seen) ? seen : [seen]), v];
          }
          expect(await computeTwilioSignature(token, url, body)).toBe(getExpectedTwilioSignature(token, url, asRecord));
        },
      ),
    );
  });

  it("refuses a missing or empty header, and an empty auth token", async () => {
    const url = "https://example.com/twilio/voice";
    const signature = getExpectedTwilioSignature("secret", url, {});
    expect(await validateTwilioSignature("secret", signature, url)).toBe(true);
    expect(await validateTwilioSignature("secret", "", url)).toBe(false);
    expect(await validateTwilioSignature("secret", null, url)).toBe(false);
    expect(await validateTwilioSignature("secret", undefined, url)).toBe(false);
    expect(await validateTwilioSignature("", getExpectedTwilioSignature("", url, {}), url)).toBe(false);
  });

  it("JSON-body webhooks: the URL's bodySHA256 must match the body", async () => {
    await fc.assert(
      fc.asyncProperty(authToken, twilioUrl, fc.json(), async (token, { url }, body) => {
        const hash = createHash("sha256").update(body, "utf8").digest("hex");
        expect(await twilioBodySha256(body)).toBe(hash);
        const signedUrl = `${url.split("?")[0]}?bodySHA256=${hash}`;
        const signature = getExpectedTwilioSignature(token, signedUrl, {});
        for (const [sentBody, sentSignature] of [
          [body, signature],
          [`${body} `, signature],
          [body, getExpectedTwilioSignature(`${token}x`, signedUrl, {})],
        ] as const) {
          const sdk = validateRequestWithBody(token, sentSignature, signedUrl, sentBody);
          expect(await validateTwilioSignatureWithBody(token, sentSignature, signedUrl, sentBody)).toBe(sdk);
        }
        expect(await validateTwilioSignatureWithBody(token, signature, signedUrl, body)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe("Media Streams upgrade URLs", () => {
  it("accept the wss:// URL with or without its default port :443", async () => {
    const signature = await computeTwilioSignature("12345", "wss://example.com:443/media");
    expect(await validateTwilioSignature("12345", signature, "wss://example.com/media")).toBe(true);
    expect(await validateTwilioSignature("12345", signature, "wss://example.com:8443/media")).toBe(false);
  });
});
