import { describe, expect, it } from "vitest";
import {
  ID_ALPHABET,
  isAccountId,
  isResourceId,
  isUserId,
  newAccountId,
  newResourceId,
  newUserId,
  parseAccountId,
  RESOURCE_KINDS,
  resourceIdSchema,
} from "../../../shared/ids.ts";

/**
 * Pearson chi-square of symbol counts against a uniform spread over the 29-symbol alphabet.
 * 28 degrees of freedom: mean 28, sd 7.5. A plain `byte % 29` (no rejection sampling) would favour
 * 24 symbols by 9/8 and score in the hundreds at these sample sizes; 80 is over six sd above chance.
 */
function chiSquare(text: string): number {
  const alphabet = ID_ALPHABET.toLowerCase();
  const counts = new Map<string, number>();
  for (const char of text.toLowerCase()) counts.set(char, (counts.get(char) ?? 0) + 1);
  expect([...counts.keys()].every((char) => alphabet.includes(char))).toBe(true);
  const expected = text.length / alphabet.length;
  return [...alphabet].reduce((sum, char) => sum + ((counts.get(char) ?? 0) - expected) ** 2 / expected, 0);
}

describe("newly generated IDs", () => {
  it("are canonical, pass their own check and parse back", () => {
    for (let i = 0; i < 2_000; i++) {
      const account = newAccountId();
      expect(account).toMatch(/^AYB-[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}$/);
      expect(isAccountId(account)).toBe(true);
      expect(parseAccountId(account)).toEqual({ ok: true, id: account });
      const user = newUserId();
      expect(user).toMatch(/^USR-[2-9A-Z]{10}$/);
      expect(isUserId(user)).toBe(true);
    }
  });

  it("spread evenly over the alphabet", () => {
    let accountSymbols = "";
    for (let i = 0; i < 20_000; i++) accountSymbols += newAccountId().slice(4).replaceAll("-", "").slice(0, -1);
    expect(chiSquare(accountSymbols)).toBeLessThan(80);

    let resourceSymbols = "";
    for (let i = 0; i < 10_000; i++) resourceSymbols += newResourceId("call").slice("call_".length);
    expect(chiSquare(resourceSymbols)).toBeLessThan(80);
  });

  it("do not repeat", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) seen.add(newResourceId("req"));
    for (let i = 0; i < 20_000; i++) seen.add(newAccountId());
    expect(seen.size).toBe(40_000);
  });
});

describe("resource IDs", () => {
  it("carry their kind, and each kind's schema accepts only its own IDs", () => {
    for (const kind of RESOURCE_KINDS) {
      const id = newResourceId(kind);
      expect(id).toMatch(new RegExp(`^${kind}_[2-9a-z]{20}$`));
      expect(isResourceId(kind, id)).toBe(true);
      expect(resourceIdSchema(kind).safeParse(id)).toEqual({ success: true, data: id });
      for (const other of RESOURCE_KINDS.filter((k) => k !== kind)) {
        expect(isResourceId(other, id)).toBe(false);
        expect(resourceIdSchema(other).safeParse(id).success).toBe(false);
      }
    }
  });

  it("reject look-alike symbols, upper case and wrong lengths", () => {
    const id = newResourceId("agt");
    const body = id.slice(4);
    for (const bad of [
      `agt_${body.slice(0, -1)}l`,
      `agt_${body.slice(0, -1)}0`,
      `agt_${body.toUpperCase()}`,
      `agt_${body.slice(1)}`,
      `agt_${body}x`,
      `AGT_${body}`,
      body,
    ]) {
      expect(isResourceId("agt", bad)).toBe(false);
      expect(resourceIdSchema("agt").safeParse(bad).success).toBe(false);
    }
  });
});
