// Does a caller's transcript end unfinished? With Nova-3 the end of a turn is silence alone, so "My order number
// is", "um" or "4 1 5" followed by a breath would be answered at once. These rules read the end of the text the way
// a listener does: a sentence cannot end on "the", "and" or "my"; a filler or "let me think" promises more; digits
// read out one by one stop short of the length their kind needs. English only; other languages are always judged
// complete (the recogniser's endpointing decides). Measured on test/fixtures/turn-completeness.jsonl (see
// docs/media-node.md for the figure). Pure and allocation-light: it runs on every final.

import {
  COMPLETE_ALONE,
  CONDITIONAL,
  COPULA_CONTRACTIONS,
  COPULAS,
  DIGIT_LENGTHS,
  DIGIT_WORDS,
  DIRECTIONS,
  FILLERS,
  FUNCTION_WORDS,
  ID_NOUNS,
  MODALS,
  MONTHS,
  NO_ENDS_AFTER,
  OBJECT_PRONOUN_AFTER_VERB,
  PRONOUN_SUBJECTS,
  QUESTION_OPENERS,
  REPORTING,
  SUBJECT_PRONOUNS,
  THAT_OPENS_CLAUSE,
  THINKING_ENDINGS,
  TRANSITIVE,
  WH_WORDS,
} from "./english-lexicon.ts";
import { stillReadingOut } from "./reading-out.ts";

export type IncompleteReason =
  | "empty"
  | "trailing-punctuation"
  | "function-word"
  | "filler"
  | "subject-without-verb"
  | "verb-without-object"
  | "copula-without-complement"
  | "digits-being-read"
  | "email-being-read"
  | "code-being-spelled"
  | "wait-request";

/** The caller is reading something out piece by piece (digits, an email address, a code): a pause is not an end. */
export function isReadingOut(reason: IncompleteReason | null): boolean {
  return reason === "digits-being-read" || reason === "email-being-read" || reason === "code-being-spelled";
}

export interface Completeness {
  complete: boolean;
  /** Why the text looks unfinished; null when complete. */
  reason: IncompleteReason | null;
}

const COMPLETE: Completeness = { complete: true, reason: null };
const incomplete = (reason: IncompleteReason): Completeness => ({ complete: false, reason });

function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[’]/g, "'")
    .split(/\s+/)
    .map((w) => w.replace(/^[^\p{L}\p{N}']+|[^\p{L}\p{N}']+$/gu, ""))
    .filter((w) => w.length > 0);
}

/** Digits at the end of the text, read out (single digits, digit words, or groups like "415 555"). */
function trailingDigits(ws: string[]): { digits: number; groups: number; singles: number } {
  let digits = 0;
  let groups = 0;
  let singles = 0;
  for (let i = ws.length - 1; i >= 0; i--) {
    const w = ws[i] ?? "";
    const bare = w.replace(/-/g, "");
    if (/^\d+$/.test(bare)) {
      digits += bare.length;
      groups++;
      if (bare.length === 1) singles++;
    } else if (DIGIT_WORDS.has(w)) {
      digits++;
      groups++;
      singles++;
    } else break;
  }
  return { digits, groups, singles };
}

function endsWithPhrase(ws: string[], phrase: string): boolean {
  const p = phrase.split(" ");
  if (p.length > ws.length) return false;
  for (let i = 0; i < p.length; i++) if (ws[ws.length - p.length + i] !== p[i]) return false;
  return true;
}

export function judgeCompleteness(text: string, language = "en"): Completeness {
  if (!/^en\b/i.test(language)) return COMPLETE;
  const trimmed = text.trim();
  if (trimmed.length === 0) return incomplete("empty");
  // The recogniser's own marks of an unfinished phrase.
  if (/(,|…|\.\.\.|-|–|—|:)$/.test(trimmed)) return incomplete("trailing-punctuation");
  const question = trimmed.endsWith("?");
  const ws = words(trimmed);
  if (ws.length === 0) return incomplete("empty");
  const last = ws[ws.length - 1] ?? "";
  const prev = ws[ws.length - 2];

  // An email address or a code read out piece by piece, until it is whole.
  const reading = stillReadingOut(ws, trimmed.toLowerCase().replace(/[’]/g, "'"));
  if (reading === "email") return incomplete("email-being-read");
  if (reading === "code" || reading === "spelling") return incomplete("code-being-spelled");
  if (reading === "whole") return COMPLETE;

  // Digits being read out: short of what their kind needs, or a few single digits with more to come.
  const run = trailingDigits(ws);
  const addressed = /\b(address|live at|located at|street|avenue)\b/.test(ws.join(" "));
  if (addressed && !question && (run.digits > 0 || DIRECTIONS.has(last))) {
    // A house number or "45 West" waits for the street.
    if ((run.digits > 0 && run.groups === ws.length - (ws.lastIndexOf("is") + 1)) || DIRECTIONS.has(last)) {
      return incomplete("digits-being-read");
    }
  }
  if (run.digits > 0) {
    const before = ws.slice(0, ws.length - run.groups).join(" ");
    const needed = DIGIT_LENGTHS.find(([re]) => re.test(before))?.[1];
    if (needed !== undefined) return run.digits < needed ? incomplete("digits-being-read") : COMPLETE;
    if (question) return COMPLETE;
    // Digits read one by one ("4 8 2", "four eight two") or in chunks ("415 555") make a long number: a code or
    // reference is rarely shorter than five digits, so fewer is a caller still reading.
    if ((run.singles >= 2 || run.groups >= 2) && run.digits < 5) return incomplete("digits-being-read");
    if (run.groups >= 2 && run.digits < 7 && run.singles < run.groups) return incomplete("digits-being-read");
    if (run.groups === 1 && run.singles === 1 && /\b(number|code|is|it's|its|and)$/.test(before)) {
      return incomplete("digits-being-read");
    }
    return COMPLETE;
  }

  if (FILLERS.has(last)) return incomplete("filler");
  if (ID_NOUNS.has(last) && ws.length <= 4) return incomplete("digits-being-read");
  if (
    ID_NOUNS.has(last) &&
    /^(apartment|apt|suite|unit|room|extension|ext|floor|flight|gate|option|ticket)$/.test(last)
  ) {
    return incomplete("digits-being-read");
  }
  // One letter spelled ("spelled J"): a name is rarely one letter (two or more: reading-out.ts).
  if (
    /^[a-z]$/.test(last) &&
    !/^[a-z]$/.test(prev ?? "") &&
    /\b(spell|spelled|spelling|letters?)\b/.test(ws.join(" ")) &&
    !question
  ) {
    return incomplete("code-being-spelled");
  }
  // "I think so", "I hope so": a whole reply, not a caller trailing off on "so".
  if (last === "so" && prev !== undefined && /^(think|guess|hope|believe|suppose|said|do|did|thought)$/.test(prev)) {
    return COMPLETE;
  }
  for (const phrase of THINKING_ENDINGS) {
    if (endsWithPhrase(ws, phrase)) {
      // "Wait, what?" and "So?" are questions; "well" or "so" alone after a full clause ("I did it so well") is rare.
      if (question) return COMPLETE;
      return incomplete(
        phrase === "hold on" || phrase.startsWith("give me") || phrase.includes("sec") || phrase === "wait"
          ? "wait-request"
          : "filler",
      );
    }
  }

  if (question) return COMPLETE;
  if (QUESTION_OPENERS.test(ws.join(" ")) && !/[.!]$/.test(trimmed)) return incomplete("subject-without-verb");

  if (MONTHS.has(last) && (prev === "on" || /\b(date of birth|birthday|born on|dob)\b/.test(ws.join(" ")))) {
    return incomplete("digits-being-read");
  }
  if (
    (last === "past" || last === "to") &&
    (prev === "half" || prev === "quarter" || prev === "ten" || prev === "twenty")
  ) {
    return incomplete("digits-being-read");
  }
  if (last === "no")
    return ws.length === 1 || (prev !== undefined && NO_ENDS_AFTER.has(prev)) ? COMPLETE : incomplete("function-word");
  if (last === "that") {
    return prev !== undefined && THAT_OPENS_CLAUSE.has(prev) ? incomplete("function-word") : COMPLETE;
  }
  if (
    last === "then" &&
    prev !== undefined &&
    /^(you|it|them|that|see|bye|okay|alright|right|fine|until)$/.test(prev)
  ) {
    return COMPLETE;
  }
  // "The one after", "the day before": a time or choice, not a clause waiting.
  if (
    (last === "after" || last === "before") &&
    prev !== undefined &&
    /^(one|day|week|month|year|night|morning|right|just|soon|long|ever)$/.test(prev)
  ) {
    return COMPLETE;
  }

  if (FUNCTION_WORDS.has(last)) {
    if (ws.length === 1 && COMPLETE_ALONE.has(last)) return COMPLETE;
    if (last === "up" && prev !== undefined) return COMPLETE;
    // "Thank you very much" never ends on "very"; "not really", "probably not", "maybe next week" end a reply.
    if ((last === "really" || last === "probably" || last === "maybe") && (prev === "not" || ws.length === 1)) {
      return COMPLETE;
    }
    if (last === "not" && (prev === "probably" || prev === "certainly" || prev === "definitely" || prev === "why")) {
      return COMPLETE;
    }
    if ((last === "too" || last === "either") && prev !== undefined && PRONOUN_SUBJECTS.has(prev)) return COMPLETE;
    if (last === "on" && (prev === "hold" || prev === "come" || prev === "go" || prev === "carry")) {
      return prev === "hold" ? incomplete("wait-request") : COMPLETE;
    }
    if (last === "in" && (prev === "come" || prev === "log" || prev === "sign" || prev === "check")) return COMPLETE;
    if (last === "about" && prev === "it") return COMPLETE;
    return incomplete("function-word");
  }

  // "Could you", "what time do you", "can I": a question begun and not asked yet ("so do I" is whole).
  if ((SUBJECT_PRONOUNS.has(last) || last === "you") && prev !== undefined && MODALS.has(prev)) {
    const before = ws[ws.length - 3];
    return before === "so" || before === "neither" || before === "nor" ? COMPLETE : incomplete("subject-without-verb");
  }
  // "This is he", "it was I": a pronoun after a copula is its complement.
  if (SUBJECT_PRONOUNS.has(last) && prev !== undefined && (COPULAS.has(prev) || COPULA_CONTRACTIONS.has(prev)))
    return COMPLETE;
  if (SUBJECT_PRONOUNS.has(last)) return incomplete("subject-without-verb");

  // "I was wondering if you could": a modal ends a reply ("Yes, I can"), not a condition.
  if (MODALS.has(last) && ws.slice(0, -1).some((w) => CONDITIONAL.has(w))) return incomplete("verb-without-object");
  // "What else do": an auxiliary with no subject before it opens a question ("yes I do", "please do" are whole).
  if (
    MODALS.has(last) &&
    !(prev !== undefined && /^(i|you|we|they|he|she|it|please|not|so|there|that|who)$/.test(prev))
  ) {
    return incomplete("subject-without-verb");
  }

  if (COPULAS.has(last) || COPULA_CONTRACTIONS.has(last)) {
    const window = ws.slice(Math.max(0, ws.length - 6), ws.length - 1);
    if (!COPULA_CONTRACTIONS.has(last) && prev !== undefined && PRONOUN_SUBJECTS.has(prev)) return COMPLETE;
    // "That's what it is" is whole; "What I need is" (the wh-word opens the sentence) waits for what.
    if (window.some((w, i) => WH_WORDS.has(w) && !(i === 0 && window.length === ws.length - 1))) return COMPLETE;
    return incomplete("copula-without-complement");
  }
  // A possessive with nothing owned: "my son's".
  if (/^[a-z]+'s$/.test(last)) return incomplete("function-word");

  if (REPORTING.has(last)) {
    const window = ws.slice(Math.max(0, ws.length - 5), ws.length - 1);
    if (window.some((w) => WH_WORDS.has(w) || w === "that's")) return COMPLETE;
    return incomplete("verb-without-object");
  }

  if (TRANSITIVE.has(last)) {
    const window = ws.slice(Math.max(0, ws.length - 5), ws.length - 1);
    if (window.some((w) => WH_WORDS.has(w) || w === "that's")) return COMPLETE;
    return incomplete("verb-without-object");
  }
  if (OBJECT_PRONOUN_AFTER_VERB.has(last) && prev !== undefined && (TRANSITIVE.has(prev) || prev === "let")) {
    // "Call me", "excuse me" are whole; "can you send me" waits for what.
    return incomplete("verb-without-object");
  }

  return COMPLETE;
}
