// The call's history as the model sees it, and every rule that edits it: a reply cut to what the caller heard,
// tool calls left without results answered, a turn folded into the next, and the notes a handoff leaves.
import type { CallCheckpoint } from "../../../shared/call-checkpoint.ts";
import type { ChatContent, ChatMessage } from "../providers/types.ts";
import { Conversation, type HistoryMark } from "./conversation.ts";
import type { Reply } from "./reply.ts";

export interface HandoffContext {
  entities: Record<string, string>;
  intent: string;
  reason: string;
}

type ToolUse = Extract<ChatContent, { type: "tool-use" }>;

export class History {
  readonly conversation = new Conversation();

  get messages(): readonly ChatMessage[] {
    return this.conversation.messages;
  }

  /**
   * A call moved here from a lost node: the conversation as the caller heard it there. Returns what the resumed call
   * owes the caller: `answer` when their last words were never (fully) answered, `listen` when every turn finished.
   */
  seed(checkpoint: Pick<CallCheckpoint, "history" | "inProgress">): "answer" | "listen" {
    for (const m of checkpoint.history) {
      if (m.role === "user") this.conversation.appendUserText(m.text);
      else this.conversation.append("assistant", [{ type: "text", text: m.text }]);
    }
    const unfinished = checkpoint.inProgress;
    if (!unfinished) return "listen";
    if (unfinished.callerText) this.conversation.appendUserText(unfinished.callerText);
    if (unfinished.agentHeard) {
      // The model cannot be asked to go on from its own cut message (that would be a prefill, and it would not know
      // the caller was gone), so it is told, like a handoff note: finish the answer, without saying it twice.
      this.conversation.append("assistant", [{ type: "text", text: unfinished.agentHeard }]);
      this.conversation.appendUserText(
        "(The line dropped while you were answering and the caller has just been told you lost them for a second. " +
          "They heard your answer up to where it stops above. Finish it briefly from there, without repeating what " +
          "they heard.)",
      );
      return "answer";
    }
    return unfinished.callerText ? "answer" : "listen";
  }

  /** A copy for a request. */
  forRequest(): ChatMessage[] {
    return this.conversation.forRequest();
  }

  mark(): HistoryMark {
    return this.conversation.mark();
  }

  /** The caller's turn opens a reply; its mark is where a fold rewinds to. */
  beginReply(reply: Reply, userText: string): void {
    reply.history = this.conversation.mark();
    if (userText) this.conversation.appendUserText(userText);
  }

  appendAssistant(content: ChatContent[]): void {
    this.conversation.append("assistant", content);
  }

  appendToolResults(content: ChatContent[]): void {
    this.conversation.append("user", content);
  }

  /** A reply folded into the next turn before the caller heard anything: as if it never happened. */
  rewind(reply: Reply): void {
    this.conversation.rewind(reply.history);
  }

  /** Cuts the assistant's messages of `reply` to what the caller heard (`reply.heard`). */
  trimToHeard(reply: Reply): void {
    const heard = reply.heard ?? new Map<number, string>();
    const messages = this.conversation.messages;
    let round = 0;
    const keep: ChatMessage[] = [];
    // Messages from the mark on belong to this reply (its user text may have merged into the one before).
    const from = reply.history.length;
    for (let i = from; i < messages.length; i++) {
      const m = messages[i]!;
      if (m.role === "assistant") {
        const text = heard.get(round) ?? "";
        const content: ChatContent[] = m.content.filter((c) => c.type !== "text");
        if (text) content.unshift({ type: "text", text });
        round += 1;
        // Reasoning alone is not a message the model accepts back; it goes with its text or tool calls.
        if (content.some((c) => c.type !== "thinking")) keep.push({ role: "assistant", content });
        continue;
      }
      keep.push(m);
    }
    // The round in flight never reached the history: add what was heard of it.
    const inFlight = heard.get(round);
    this.conversation.truncate(from);
    for (const m of keep) this.conversation.append(m.role, m.content);
    if (inFlight) this.conversation.append("assistant", [{ type: "text", text: inFlight }]);
    this.answerPendingToolCalls();
  }

  /** Tool calls whose results never came back (the caller cut in while they ran) must still be answered. */
  answerPendingToolCalls(): void {
    const last = this.conversation.messages.at(-1);
    const pending = last?.role === "assistant" ? last.content.filter((c): c is ToolUse => c.type === "tool-use") : [];
    if (pending.length === 0) return;
    this.conversation.append(
      "user",
      pending.map((c) => ({
        type: "tool-result" as const,
        toolUseId: c.id,
        content: { error: "The caller interrupted before this tool's result was received." },
        isError: true,
      })),
    );
  }

  /**
   * The call now belongs to another agent: tool calls become text (its tool list is not the old one's) and a
   * note tells it what the edge's context packet says.
   */
  noteHandoff(context: HandoffContext): void {
    this.conversation.flattenToolUse();
    const details = Object.entries(context.entities)
      .map(([k, v]) => `${k}: ${v}`)
      .join("; ");
    this.conversation.appendUserText(
      `(This call was just handed to you from another agent, and the caller is on the line now. ` +
        `What they want: ${context.intent || "see the conversation above"}.` +
        (context.reason ? ` Why it was handed over: ${context.reason}.` : "") +
        (details ? ` Details: ${details}.` : "") +
        " Greet them briefly as yourself and carry on.)",
    );
  }

  /** The handoff fell through: the first agent carries on. */
  noteHandoffFailed(): void {
    this.conversation.appendUserText(
      "(The handoff did not go through: the other agent is not available. Keep helping the caller yourself.)",
    );
  }
}
