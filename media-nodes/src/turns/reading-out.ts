// A caller reading something out piece by piece: an email address ("j dot smith at example dot com") or a code
// spelled in letters and digits ("A B 7 K 2 Q"). Between pieces they pause as long as at the end of a sentence, and
// what they have said so far reads like a whole answer ("My email is j dot smith", "The code is A B 7"). These rules
// say when such a reading is still short of its end; completeness.ts holds the turn and Flux's thresholds are raised
// while it lasts (user-turns.ts). English only, like the rest of the completeness rules.

import { DIGIT_WORDS, FUNCTION_WORDS } from "./english-lexicon.ts";

// The spoken address's last word once the domain is whole ("dot com", "dot co dot uk").
const TOP_LEVEL_DOMAINS = new Set(
  "com org net edu gov mil int io co uk us ca au nz ie de fr es it nl ch se no dk fi be at jp in info biz me ai app dev tv xyz eu".split(
    " ",
  ),
);
// Mail providers callers name without their ".com": "jsmith at gmail" is a whole address in practice.
const MAIL_PROVIDERS = new Set(
  "gmail googlemail yahoo hotmail outlook icloud aol protonmail proton live msn comcast me mac".split(" "),
);
// Spelled separators inside an address.
const ADDRESS_SEPARATORS = new Set(["dot", "underscore", "dash", "hyphen", "at"]);
// The NATO alphabet, one letter each ("alpha bravo seven").
const PHONETIC = new Set(
  "alpha bravo charlie delta echo foxtrot golf hotel india juliet juliett kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey whisky x-ray xray yankee zulu".split(
    " ",
  ),
);
// Words that say what follows is a code (a reference, an ID, a plate), read out until it is whole.
const CODE_NOUNS =
  /\b(code|codes|reference|ref|confirmation|booking|ticket|tracking|serial|id|vin|policy|account|member|membership|voucher|coupon|promo|postcode|postal|plate|registration|reg|license|licence|locator|pnr|number)\b/;
const SPELLING = /\b(spell|spelled|spelt|spelling|letters?)\b/;
/** A code read out in letters and digits is rarely shorter than this (booking references, plates, member IDs). */
const CODE_MIN_CHARS = 6;
/** A postcode is whole from five characters ("M1 1AE"). */
const POSTCODE_MIN_CHARS = 5;

/** Still being read (an email, a code, a spelled word), `whole` once it is complete, null if nothing is read out. */
export type ReadingOut = "email" | "code" | "spelling" | "whole" | null;

/**
 * Whether `ws` (the text's words, lower-cased, edge punctuation stripped) ends in an email address or a code that is
 * still being read out. `lower` is the whole text lower-cased, for the phrases around the words.
 */
export function stillReadingOut(ws: readonly string[], lower: string): ReadingOut {
  const email = emailBeingRead(lower);
  if (email !== undefined) return email ? "email" : "whole";
  return codeBeingRead(ws);
}

/** True: an address read out and not whole yet; false: a whole one; undefined: the text reads out no address. */
function emailBeingRead(lower: string): boolean | undefined {
  const written = /([^\s@]+)@([^\s@]*)$/.exec(lower.replace(/[.!?]+$/, ""));
  if (written) return !/\.[a-z]{2,}$/.test(written[2] ?? "");
  const m = /\be-?mail(?: address)?(?:'s|,|:| is| was| it's| would be| should be)\s+(.+)$/.exec(lower);
  if (!m) return undefined;
  const tail = (m[1] ?? "")
    .split(/\s+/)
    .map((w) => w.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, ""))
    .filter((w) => w.length > 0);
  const at = tail.lastIndexOf("at");
  if (at >= 0) {
    const local = tail.slice(0, at);
    const domain = tail.slice(at + 1);
    // "It's down at the moment": a preposition, not an address.
    const looksLikeAddress = (part: string[]) =>
      part.length <= 6 && part.every((w) => ADDRESS_SEPARATORS.has(w) || !FUNCTION_WORDS.has(w));
    if (local.length === 0 || !looksLikeAddress(local) || !looksLikeAddress(domain)) return undefined;
    if (domain.length === 0) return true;
    const last = domain[domain.length - 1] ?? "";
    const beforeLast = domain[domain.length - 2];
    if (beforeLast === "dot" && TOP_LEVEL_DOMAINS.has(last)) return false;
    if (/\.[a-z]{2,}$/.test(last)) return false;
    if (domain.length === 1 && MAIL_PROVIDERS.has(last)) return false;
    return true;
  }
  // No "at" yet: the local part is being read if it is spelled ("j dot smith", "p smith 42", "kim dash lee").
  const spelled = tail.some(
    (w) => ADDRESS_SEPARATORS.has(w) || /\d/.test(w) || (w.length === 1 && w !== "a") || /[._-]/.test(w),
  );
  return spelled && tail.length <= 8 ? true : undefined;
}

/** A code read out in letters (and digits) at the end of the text, and whether it is still short. */
function codeBeingRead(ws: readonly string[]): ReadingOut {
  let chars = 0;
  let tokens = 0;
  let letters = 0;
  let digits = 0;
  let phonetic = 0;
  let i = ws.length - 1;
  for (; i >= 0; i--) {
    const w = ws[i] ?? "";
    if (/^[a-z]$/.test(w) || PHONETIC.has(w)) {
      chars += 1;
      letters += 1;
      if (PHONETIC.has(w)) phonetic += 1;
    } else if (/^\d+$/.test(w)) {
      chars += w.length;
      digits += 1;
    } else if (DIGIT_WORDS.has(w)) {
      chars += 1;
      digits += 1;
    } else if (/^(?=[a-z0-9]*\d)(?=[a-z0-9]*[a-z])[a-z0-9]{2,8}$/.test(w)) {
      chars += w.length;
      letters += 1;
      digits += 1;
    } else break;
    tokens += 1;
  }
  // "I have a 2", "It's a 2018": an article or "I" opening the run is not a letter of it.
  const first = ws[i + 1];
  if ((first === "a" || first === "i") && letters === 1) {
    chars -= 1;
    tokens -= 1;
    letters -= 1;
  }
  if (tokens < 2 || letters === 0) return null;
  const before = ws.slice(0, i + 1).join(" ");
  const codeContext = CODE_NOUNS.test(before);
  if (digits === 0) {
    // Letters alone: a code when a code is named; a spelled word ("J O N E S") when spelling is.
    if (codeContext && !SPELLING.test(before)) return chars < CODE_MIN_CHARS ? "code" : "whole";
    if (SPELLING.test(before)) return letters < 3 ? "spelling" : null;
    return null;
  }
  // Letters and digits mixed: a code, named or not (but a pair of phonetic words is rare in plain speech).
  if (!codeContext && phonetic > 0 && phonetic === letters && phonetic < 2) return null;
  const needed = /\b(postcode|postal)\b/.test(before) ? POSTCODE_MIN_CHARS : CODE_MIN_CHARS;
  return chars < needed ? "code" : "whole";
}
