// A plain answer when no tool fits: small talk handled directly, anything else echoed back as its topic with
// a follow-up question, picked stably from the words so the same caller line gets the same reply.
import { INTENTS, normalize } from "./caller-words.ts";

const PRONOUNS: Record<string, string> = {
  my: "your",
  your: "our",
  i: "you",
  me: "you",
  "i'm": "you're",
  mine: "yours",
  myself: "yourself",
};

const VERBS = new Set(
  "is are was were has have had hurts hurt broke broken isn't aren't doesn't don't won't can't needs keeps seems looks stopped started came got went".split(
    " ",
  ),
);

const FILLERS = /^(?:(?:so|well|um+|uh+|er+|hmm+|okay|ok|yes|yeah|please|hi|hello|hey|and|but)\s+)*/;

/** The subject of what the caller said, e.g. "can you tell me about your pricing?" → "our pricing". */
function topicOf(text: string): string {
  const t = normalize(text)
    .replace(/[?.!,;:]+/g, "")
    .replace(FILLERS, "");
  const frames = [
    /\b(?:about|regarding)\s+(.+)$/,
    /\b(?:help|question|problem|issue|trouble)\s+(?:with|on)\s+(.+)$/,
    /\b(?:wondering|know|asking) (?:if|whether) (?:you|they|i|we) (?:can |could )?(?:have|offer|take|accept|sell|support|get|do|bring|pay)\s+(.+)$/,
    /^(?:do|does|can|could) (?:you|they|it|i|we) (?:have|offer|take|accept|sell|support|get|do|bring|pay)\s+(.+)$/,
    /^(?:is|are) there\s+(.+)$/,
    /^(?:what|how) (?:is|are|was|about|'s|much is|much does|much do|long is|long does)\s+(.+)$/,
    /^(?:what's|how's)\s+(.+)$/,
    /\b((?:my|your|our|the|this|that)\s+.+)$/,
  ];
  let topic = t.replace(
    /^(?:(?:can|could|would|will) you\s+|i (?:want|need|would like|'d like) to\s+|i'm calling to\s+|tell me\s+)*/,
    "",
  );
  for (const frame of frames) {
    const m = frame.exec(t);
    if (m?.[1]) {
      topic = m[1];
      break;
    }
  }
  // A noun phrase ends where its verb starts: "my tooth hurts really bad" → "my tooth".
  const all = topic.split(" ").filter(Boolean);
  const verb = all.findIndex((w, i) => i > 0 && VERBS.has(w));
  const words = (verb > 0 ? all.slice(0, verb) : all).slice(0, 8);
  return words.map((w) => PRONOUNS[w] ?? w).join(" ");
}

function stableIndex(text: string, n: number): number {
  let h = 0;
  for (const ch of text) h = (h * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  return h % n;
}

export function plainAnswer(userText: string): string {
  const t = normalize(userText);
  const bare = t.replace(/[?.!,;:]+/g, "");
  if (bare === "" || /^(?:(?:um+|uh+|er+|hmm+|mm+)\s*)+$/.test(bare)) {
    return "Sorry, I didn't quite catch that. Could you say it again?";
  }
  if (/^(?:(?:ok|okay|great|perfect)\s+)?(?:thanks|thank you)(?: so much| very much)?$/.test(bare)) {
    return "You're welcome! Is there anything else I can help you with?";
  }
  if (/^(?:yes|yeah|yep|sure|ok|okay|sounds good|please)(?: please)?$/.test(bare)) {
    return "Great. What would you like to do next?";
  }
  if (/^(?:no|nope|not really)(?: thanks| thank you)?$/.test(bare)) {
    return "No problem. Is there anything else I can help you with?";
  }
  if (/\bhow are you\b/.test(t)) return "I'm doing well, thanks for asking. How can I help you today?";
  if (INTENTS.greeting.test(t) && t.split(" ").length <= 4) {
    return "Hi there, thanks for calling. How can I help you today?";
  }
  const topic = topicOf(userText) || "that";
  const templates = [
    `Sure, I can help with ${topic}. I can walk you through the details now, or have someone from the team follow up later. Which would you prefer?`,
    `Thanks for calling about ${topic}. I want to get this right for you, so let me ask one quick question. What would you like to know first?`,
    `Okay, let's sort out ${topic} together. It depends on a few details, and I'm happy to go through them with you. Could you tell me a bit more?`,
  ];
  return templates[stableIndex(t, templates.length)] ?? templates[0] ?? "";
}
