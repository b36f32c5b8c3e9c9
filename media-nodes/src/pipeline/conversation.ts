// The conversation as the model sees it. Roles alternate: appends merge into the previous message when
// the role repeats (a caller who speaks again after a tool round was cut short).
import type { ChatContent, ChatMessage } from "../providers/types.ts";

export interface HistoryMark {
  length: number;
  lastContent: number;
}

export class Conversation {
  readonly messages: ChatMessage[] = [];

  append(role: ChatMessage["role"], content: ChatContent[]): void {
    const parts = content.filter((c) => c.type !== "text" || c.text.trim().length > 0);
    if (parts.length === 0) return;
    const last = this.messages[this.messages.length - 1];
    if (last && last.role === role) last.content.push(...parts);
    else this.messages.push({ role, content: parts });
  }

  appendUserText(text: string): void {
    this.append("user", [{ type: "text", text }]);
  }

  /** Drops everything from `length` on. */
  truncate(length: number): void {
    this.messages.length = Math.min(length, this.messages.length);
  }

  /** A point to rewind to: appends may merge into the last message, so its size is kept too. */
  mark(): HistoryMark {
    return { length: this.messages.length, lastContent: this.messages.at(-1)?.content.length ?? 0 };
  }

  /** Undoes every append since `mark` (a turn folded into the next before anything was heard). */
  rewind(mark: HistoryMark): void {
    this.truncate(mark.length);
    const last = this.messages.at(-1);
    if (last) last.content.length = Math.min(mark.lastContent, last.content.length);
  }

  get length(): number {
    return this.messages.length;
  }

  /**
   * Rewrites tool calls and results as text and drops reasoning blocks, keeping every message where it was: for a
   * model whose tool list differs from the one that made the calls (a handoff), which may not be sent tool blocks
   * naming tools it does not have.
   */
  flattenToolUse(): void {
    for (const message of this.messages) {
      message.content = message.content.flatMap((c): ChatContent[] => {
        if (c.type === "tool-use") return [{ type: "text", text: `[called ${c.name} ${JSON.stringify(c.input)}]` }];
        if (c.type === "tool-result") {
          return [{ type: "text", text: `[${c.isError ? "error" : "result"}: ${JSON.stringify(c.content)}]` }];
        }
        if (c.type === "text") return [c];
        return [];
      });
      // Reasoning alone flattens to nothing, and an empty message is not one a model accepts.
      if (message.content.length === 0) message.content = [{ type: "text", text: "[…]" }];
    }
  }

  /** A copy for a request (the provider adapts it to its vendor's rules, e.g. a user message first). */
  forRequest(): ChatMessage[] {
    return structuredClone(this.messages);
  }
}

export function textOf(message: ChatMessage | undefined): string {
  return (message?.content ?? [])
    .filter((c): c is Extract<ChatContent, { type: "text" }> => c.type === "text")
    .map((c) => c.text)
    .join("");
}
