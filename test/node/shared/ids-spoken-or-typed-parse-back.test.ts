import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  accountIdFromData,
  ID_ALPHABET,
  parseAccountId,
  parseUserId,
  spellIdForSpeech,
  userIdFromData,
} from "../../../shared/ids.ts";

const symbol = fc.constantFrom(...ID_ALPHABET);
const data = (length: number) =>
  fc.array(symbol, { minLength: length, maxLength: length }).map((symbols) => symbols.join(""));
const accountId = data(11).map(accountIdFromData);
const userId = data(9).map(userIdFromData);

const DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
const NATO: Record<string, string[]> = {
  A: ["alpha", "alfa"],
  B: ["bravo"],
  C: ["charlie"],
  D: ["delta"],
  E: ["echo"],
  F: ["foxtrot"],
  G: ["golf"],
  H: ["hotel"],
  J: ["juliet", "juliett"],
  K: ["kilo"],
  M: ["mike"],
  N: ["november"],
  P: ["papa"],
  Q: ["quebec"],
  R: ["romeo"],
  S: ["sierra"],
  T: ["tango"],
  U: ["uniform"],
  W: ["whiskey", "whisky"],
  X: ["x-ray", "xray", "X ray"],
  Y: ["yankee"],
  Z: ["zulu"],
};

type Piece = { text: string; word: boolean };

/** One symbol as a person might type or say it. */
function spoken(char: string): fc.Arbitrary<Piece> {
  const words = /\d/.test(char) ? [DIGIT_WORDS[Number(char)]!] : (NATO[char] ?? []);
  return fc.oneof(
    fc.constantFrom(char, char.toLowerCase()).map((text) => ({ text, word: false })),
    ...(words.length > 0 ? [fc.constantFrom(...words).map((text) => ({ text, word: true }))] : []),
  );
}

const casing = fc.constantFrom<(text: string) => string>(
  (text) => text,
  (text) => text.toUpperCase(),
  (text) => text.charAt(0).toUpperCase() + text.slice(1),
);
const withinGroup = fc.constantFrom("", " ", "  ", " ");
const betweenGroups = fc.constantFrom("-", "", " ", " - ", " dash ", " Dash ", " hyphen ", ", ", " — ", "\t", " -- ");

/** Renders a canonical ID in a random spoken or typed way, keeping words apart from their neighbours. */
function variant(id: string): fc.Arbitrary<string> {
  const groups = id.split("-");
  return fc
    .tuple(
      fc.boolean(),
      fc.tuple(...groups.map((group) => fc.tuple(...[...group].map(spoken)))),
      fc.array(fc.tuple(withinGroup, betweenGroups, casing), { minLength: 16, maxLength: 16 }),
      fc.constantFrom("", " ", "  \n"),
    )
    .map(([keepPrefix, rendered, choices, pad]) => {
      let out = "";
      let previous: Piece | undefined;
      let n = 0;
      rendered.forEach((pieces, groupIndex) => {
        if (groupIndex === 0 && !keepPrefix) return;
        pieces.forEach((piece, at) => {
          const [inGroup, between, caseOf] = choices[n++ % choices.length]!;
          let separator = previous === undefined ? "" : at === 0 ? between : inGroup;
          if (separator === "" && previous !== undefined && (previous.word || piece.word)) separator = " ";
          out += separator + caseOf(piece.text);
          previous = piece;
        });
      });
      return pad + out + pad;
    });
}

describe("an ID read out or typed loosely parses back to the same ID", () => {
  it("account IDs: any case, spaces, dashes or none, 'dash', digit and NATO words, with or without AYB", () => {
    fc.assert(
      fc.property(
        accountId.chain((id) => fc.tuple(fc.constant(id), variant(id))),
        ([id, said]) => {
          expect(parseAccountId(said)).toEqual({ ok: true, id });
        },
      ),
      { numRuns: 500 },
    );
  });

  it("user IDs likewise, including a spelled-out 'uniform sierra romeo' prefix", () => {
    fc.assert(
      fc.property(
        userId.chain((id) => fc.tuple(fc.constant(id), variant(id))),
        ([id, said]) => {
          expect(parseUserId(said)).toEqual({ ok: true, id });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("what the agent says when it reads an ID back parses to that ID", () => {
    fc.assert(
      fc.property(fc.oneof(accountId, userId), fc.boolean(), (id, phonetic) => {
        const speech = spellIdForSpeech(id, { phonetic });
        const parsed = id.startsWith("AYB") ? parseAccountId(speech) : parseUserId(speech);
        expect(parsed).toEqual({ ok: true, id });
      }),
    );
  });

  it("reads 'double' and 'triple' as repeats", () => {
    const id = accountIdFromData("AAA777K3M29");
    const last = id.split("-")[3];
    expect(parseAccountId(`A Y B dash triple A 7 dash double seven K 3 dash ${last}`)).toEqual({ ok: true, id });
  });

  it("a word that is also four ID symbols (PAPA, DASH, XRAY) is read whichever way yields a valid ID", () => {
    const id = accountIdFromData("PAPADASHXRA");
    expect(parseAccountId(id.toLowerCase())).toEqual({ ok: true, id });
    expect(parseAccountId(id.replaceAll("-", " "))).toEqual({ ok: true, id });
    const spoken = `AYB papa alpha papa alpha dash delta alpha sierra hotel dash xray romeo alpha ${id.at(-1)}`;
    expect(parseAccountId(spoken)).toEqual({ ok: true, id });
  });
});
