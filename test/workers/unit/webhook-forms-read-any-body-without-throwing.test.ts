// Properties over the carriers' webhook parsers, kept in the suite: a Twilio form keeps every key and value it was
// sent (repeated keys included) whatever they contain, Telnyx's client_state round-trips any values, and no body,
// signature or header a stranger can send makes a parser throw past its boundary.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeClientState,
  encodeClientState,
  telnyxWebhookSchema,
  verifyTelnyxSignature,
} from "../../../workers/src/telephony/telnyx.ts";
import {
  firstValues,
  parseTwilioForm,
  twilioInboundSmsSchema,
  twilioStatusCallbackSchema,
  twilioVoiceWebhookSchema,
} from "../../../workers/src/telephony/twilio-webhooks.ts";

const RUNS = { numRuns: 150 };

describe("Twilio webhook forms", () => {
  it("keep every key and every value, in order, whatever they contain", () => {
    const pairs = fc.array(fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 60 })), { maxLength: 20 });
    fc.assert(
      fc.property(pairs, (sent) => {
        const form = parseTwilioForm(new URLSearchParams(sent).toString());
        const expected = new Map<string, string[]>();
        for (const [key, value] of sent) expected.set(key, [...(expected.get(key) ?? []), value]);
        expect(Object.keys(form).sort()).toEqual([...expected.keys()].sort());
        for (const [key, values] of expected) {
          expect(form[key]).toEqual(values.length === 1 ? values[0] : values);
          expect(firstValues(form)[key]).toBe(values[0]);
        }
      }),
      RUNS,
    );
  });

  it("never throw on any body, and the schemas answer with success or issues", () => {
    // Raw text, and `k=v&…` with stray %, + and = where a form has them.
    const formish = fc
      .array(
        fc.tuple(
          fc.string({ maxLength: 12 }),
          fc.constantFrom("=", "==", "%", "%zz", "+", ""),
          fc.string({ maxLength: 24 }),
        ),
        { maxLength: 10 },
      )
      .map((parts) => parts.map(([k, sep, v]) => `${k}${sep}${v}`).join("&"));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), formish), (body) => {
        const values = firstValues(parseTwilioForm(body));
        for (const schema of [twilioVoiceWebhookSchema, twilioStatusCallbackSchema, twilioInboundSmsSchema]) {
          const parsed = schema.safeParse(values);
          if (!parsed.success) expect(parsed.error.issues.length).toBeGreaterThan(0);
        }
      }),
      RUNS,
    );
  });
});

describe("Telnyx webhooks", () => {
  it("round-trip any client_state, and read junk client_state as empty", () => {
    fc.assert(
      fc.property(
        // `__proto__` is the one key that cannot come back: see the next test.
        fc.dictionary(
          fc.string({ maxLength: 20 }).filter((key) => key !== "__proto__"),
          fc.string({ maxLength: 80 }),
        ),
        fc.string(),
        (state, junk) => {
          expect(decodeClientState(encodeClientState(state))).toEqual(state);
          expect(typeof decodeClientState(junk)).toBe("object");
        },
      ),
      RUNS,
    );
  });

  it("drop a __proto__ key from client_state rather than let it reach an object's prototype", () => {
    const state = decodeClientState(btoa('{"__proto__":{"polluted":"yes"},"call":"c1"}'));
    expect(state).toEqual({ call: "c1" });
    expect(Object.getPrototypeOf(state)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("never throw on any JSON body, and refuse any unsigned one with a reason", async () => {
    const publicKey = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));
    await fc.assert(
      fc.asyncProperty(
        fc.jsonValue(),
        fc.option(fc.string({ maxLength: 120 })),
        fc.option(fc.string({ maxLength: 20 })),
        async (json, signature, timestamp) => {
          const parsed = telnyxWebhookSchema.safeParse(json);
          if (!parsed.success) expect(parsed.error.issues.length).toBeGreaterThan(0);
          const verdict = await verifyTelnyxSignature({
            publicKey,
            rawBody: JSON.stringify(json) ?? "",
            signature,
            timestamp,
            nowMs: Date.now(),
          });
          expect(verdict.ok).toBe(false);
          if (!verdict.ok) expect(["missing", "stale", "invalid"]).toContain(verdict.reason);
        },
      ),
      { numRuns: 100 },
    );
  });
});
