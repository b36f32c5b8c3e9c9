// What the caller said, read the way the stand-in model reads it: the latest words, their intent, and the
// entities a tool might need (order number, day, time, name).
import type { Message } from "./request-schema.ts";

export const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] as const;

export interface Entities {
  orderId?: string;
  day?: string;
  time?: string;
  name?: string;
}

export const INTENTS = {
  order: /\b(orders?|package|parcel|shipment|delivery)\b/,
  hours: /\b(hours?|open|opening|close|closing|closed)\b/,
  booking: /\b(book|booking|schedule|appointment|reserve|reservation)\b/,
  transfer: /\b(transfer|human|real person|representative|operator|manager)\b/,
  goodbye: /\b(bye|goodbye|that's all|that is all|that's it|nothing else)\b/,
  greeting: /^(hi|hello|hey|good (morning|afternoon|evening))\b/,
};

export function normalize(text: string): string {
  return text.toLowerCase().replace(/[’‘]/g, "'").replace(/\s+/g, " ").trim();
}

export function entitiesOf(text: string): Entities {
  const t = normalize(text);
  const out: Entities = {};
  const order = /\b(?:order|number|#)\D{0,20}?(\d{3,12})\b/.exec(t) ?? /\b(\d{4,12})\b/.exec(t);
  if (order?.[1]) out.orderId = order[1];
  const day = WEEKDAYS.find((d) => t.includes(d)) ?? /\b(today|tomorrow)\b/.exec(t)?.[1];
  if (day) out.day = day[0]?.toUpperCase() + day.slice(1);
  const time = /\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)/.exec(t);
  if (time) out.time = `${time[1]}:${time[2] ?? "00"} ${time[3]?.startsWith("a") ? "AM" : "PM"}`;
  else if (/\bnoon\b/.test(t)) out.time = "12:00 PM";
  const name = /\bmy name is ([a-z]+(?: [a-z]+)?)/.exec(t);
  if (name?.[1]) out.name = name[1].replace(/\b[a-z]/g, (c) => c.toUpperCase());
  return out;
}

function textOf(message: Message | undefined): string {
  return (message?.content ?? [])
    .flatMap((b) => (b.text !== undefined ? [b.text] : []))
    .join(" ")
    .trim();
}

/** The caller's latest words: the last user message that has text. */
export function lastUserText(messages: Message[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role === "user" && textOf(m) !== "") return textOf(m);
  }
  return "";
}
