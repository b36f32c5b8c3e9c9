import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AccountIdSchema,
  accountIdFromData,
  ID_ALPHABET,
  isAccountId,
  parseAccountId,
  parseUserId,
  userIdFromData,
} from "../../../shared/ids.ts";

const symbol = fc.constantFrom(...ID_ALPHABET);
const data = (length: number) =>
  fc.array(symbol, { minLength: length, maxLength: length }).map((symbols) => symbols.join(""));
const accountId = data(11).map(accountIdFromData);
const userId = data(9).map(userIdFromData);

/** The symbols after the prefix, with the positions a caller could get wrong. */
function body(id: string): string[] {
  return [...id.slice(4).replaceAll("-", "")];
}

function withBody(id: string, symbols: readonly string[]): string {
  return id.startsWith("AYB")
    ? `AYB-${symbols.slice(0, 4).join("")}-${symbols.slice(4, 8).join("")}-${symbols.slice(8).join("")}`
    : `USR-${symbols.join("")}`;
}

const parse = (id: string) => (id.startsWith("AYB") ? parseAccountId(id) : parseUserId(id));

describe("a mis-heard ID is refused before any lookup", () => {
  it("accepts the ID as issued", () => {
    fc.assert(
      fc.property(fc.oneof(accountId, userId), (id) => {
        expect(parse(id)).toEqual({ ok: true, id });
      }),
    );
  });

  it("refuses every single wrong symbol, at every position, with reason check", () => {
    fc.assert(
      fc.property(fc.oneof(accountId, userId), (id) => {
        const symbols = body(id);
        const accepted: string[] = [];
        symbols.forEach((original, at) => {
          for (const other of ID_ALPHABET) {
            if (other === original) continue;
            const misheard = withBody(id, symbols.with(at, other));
            const result = parse(misheard);
            if (result.ok || result.reason !== "check") accepted.push(misheard);
          }
        });
        expect(accepted).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });

  it("refuses two neighbouring symbols said in the wrong order, with reason check", () => {
    fc.assert(
      fc.property(fc.oneof(accountId, userId), (id) => {
        const symbols = body(id);
        for (let at = 0; at + 1 < symbols.length; at++) {
          if (symbols[at] === symbols[at + 1]) continue;
          const swapped = symbols.with(at, symbols[at + 1]!).with(at + 1, symbols[at]!);
          expect(parse(withBody(id, swapped))).toMatchObject({ ok: false, reason: "check" });
        }
      }),
      { numRuns: 200 },
    );
  });

  it("also refuses two distant symbols swapped", () => {
    fc.assert(
      fc.property(accountId, fc.nat(11), fc.nat(11), (id, i, j) => {
        const symbols = body(id);
        fc.pre(symbols[i] !== symbols[j]);
        const swapped = symbols.with(i, symbols[j]!).with(j, symbols[i]!);
        expect(parseAccountId(withBody(id, swapped))).toMatchObject({ ok: false, reason: "check" });
      }),
    );
  });

  it("names a symbol IDs never use (zero, one, I, L, O, U, V) with reason alphabet", () => {
    fc.assert(
      fc.property(accountId, fc.nat(11), fc.constantFrom(..."01ILOUV"), (id, at, stranger) => {
        const result = parseAccountId(withBody(id, body(id).with(at, stranger)));
        expect(result).toMatchObject({ ok: false, reason: "alphabet" });
        expect(!result.ok && result.message).toContain(`"${stranger}"`);
      }),
    );
  });

  it("says 'format' when the caller gave too few or too many symbols, or another kind of ID", () => {
    fc.assert(
      fc.property(accountId, userId, (account, user) => {
        expect(parseAccountId(account.slice(0, -1))).toMatchObject({ ok: false, reason: "format" });
        expect(parseAccountId(`${account}7`)).toMatchObject({ ok: false, reason: "format" });
        expect(parseAccountId(user)).toMatchObject({ ok: false, reason: "format" });
        expect(parseUserId(account)).toMatchObject({ ok: false, reason: "format" });
      }),
    );
    for (const nonsense of ["", "   ", "dash dash", "hello there", "AYB", "x".repeat(5000)]) {
      const result = parseAccountId(nonsense);
      expect(result).toMatchObject({ ok: false, reason: "format" });
      expect(!result.ok && result.message).toMatch(/AYB-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}/);
    }
  });

  it("keeps the API schema and predicate to the canonical form with a valid check", () => {
    fc.assert(
      fc.property(accountId, fc.nat(11), fc.nat(27), (id, at, shift) => {
        const symbols = body(id);
        const wrong = ID_ALPHABET[(ID_ALPHABET.indexOf(symbols[at]!) + shift + 1) % ID_ALPHABET.length]!;
        const misheard = withBody(id, symbols.with(at, wrong));
        expect(isAccountId(id)).toBe(true);
        expect(AccountIdSchema.safeParse(id).success).toBe(true);
        expect(isAccountId(misheard)).toBe(false);
        expect(AccountIdSchema.safeParse(misheard).success).toBe(false);
        // Lenient spellings are for parse*, not for stored or API values.
        expect(isAccountId(id.toLowerCase())).toBe(false);
        expect(AccountIdSchema.safeParse(id.replaceAll("-", "")).success).toBe(false);
      }),
    );
  });
});
