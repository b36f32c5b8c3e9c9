// Facts a human or another agent taking over the call needs first: what the caller already said their
// order number, phone number, date or name is. Simple patterns on the caller's own words; a miss only
// means the next agent asks again.
import type { ChatMessage } from "../providers/types.ts";

const PATTERNS: { key: string; re: RegExp; pick?: (m: RegExpMatchArray) => string }[] = [
  {
    key: "orderNumber",
    re: /\b(?:order|confirmation|booking|reference|ref|ticket|case|tracking|invoice)\s*(?:number|no\.?|#|id)?\s*(?:is\s*)?#?\s*([A-Z0-9][A-Z0-9-]{3,})\b/gi,
    pick: (m) => (m[1] ?? "").toUpperCase(),
  },
  { key: "orderNumber", re: /#\s?([A-Z0-9][A-Z0-9-]{3,})\b/gi, pick: (m) => (m[1] ?? "").toUpperCase() },
  { key: "email", re: /\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b/g },
  {
    key: "phone",
    re: /(?:\+|\b)\d[\d\s().-]{7,}\d\b/g,
    pick: (m) => {
      const raw = m[0];
      const digits = raw.replace(/\D/g, "");
      return raw.trim().startsWith("+") ? `+${digits}` : digits;
    },
  },
  {
    key: "date",
    re: /\b(?:today|tomorrow|yesterday|(?:next |this )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.? \d{1,2}(?:st|nd|rd|th)?(?:,? \d{4})?|\d{4}-\d{2}-\d{2}|\d{1,2}\/\d{1,2}(?:\/\d{2,4})?)\b/gi,
  },
  { key: "time", re: /\b(?:\d{1,2}:\d{2}\s?(?:[ap]\.?m\.?)?|\d{1,2}\s?[ap]\.?m\.?)(?=\W|$)/gi },
  {
    key: "name",
    re: /\b(?:[Mm]y name is|[Tt]his is|I am|I'm|I’m|[Cc]all me)\s+([A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+)?)/g,
    pick: (m) => m[1] ?? "",
  },
];

/** Entities from the caller's turns; a later mention overrides an earlier one. */
export function extractEntities(history: ChatMessage[]): Record<string, string> {
  const entities: Record<string, string> = {};
  for (const message of history) {
    if (message.role !== "user") continue;
    for (const content of message.content) {
      if (content.type !== "text") continue;
      for (const { key, re, pick } of PATTERNS) {
        for (const m of content.text.matchAll(re)) {
          const value = (pick ? pick(m) : m[0]).trim();
          if (value.length === 0) continue;
          // An order number is also digits: don't let it be reported as a phone number too.
          if (key === "phone" && Object.values(entities).includes(value)) continue;
          if (key === "phone" && entities.orderNumber && value.endsWith(entities.orderNumber.replace(/\D/g, "")))
            continue;
          entities[key] = value;
        }
      }
    }
  }
  return entities;
}
