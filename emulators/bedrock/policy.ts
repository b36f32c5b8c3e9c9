// A small deterministic stand-in for the model. It reads the caller's last words and the tools offered
// and answers the way a phone agent on Claude would: short spoken sentences, a tool call when a tool
// fits (two in one message when the caller asks two things), and an answer quoting the tool's result
// once it comes back. Same request in, same words out, so tests and benchmarks can rely on the shape.
import { ANALYSIS_TOOL, analysisInput } from "./analysis.ts";
import { entitiesOf, INTENTS, lastUserText, normalize } from "./caller-words.ts";
import { plainAnswer } from "./plain-answers.ts";
import type { ValidatedRequest } from "./request.ts";
import { answerToolResults, humanKey, joinList } from "./tool-answers.ts";
import { fillInput, findTool, kindOfTool, type ToolKind } from "./tool-calls.ts";

export type StopReason =
  | "end_turn"
  | "tool_use"
  | "max_tokens"
  | "stop_sequence"
  | "guardrail_intervened"
  | "content_filtered"
  | "malformed_model_output"
  | "malformed_tool_use"
  | "model_context_window_exceeded";

export interface PlannedReply {
  thinking: string | null;
  text: string;
  toolUses: { name: string; input: unknown }[];
  /** null: derived (tool_use when there are tool uses, else end_turn). */
  stopReason: StopReason | null;
}

function quote(text: string): string {
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

function withThinking(req: ValidatedRequest, reply: Omit<PlannedReply, "thinking">, why: string): PlannedReply {
  return { ...reply, thinking: req.thinking.kind === "off" ? null : why };
}

export function planReply(req: ValidatedRequest): PlannedReply {
  const { messages, tools, toolChoice } = req;
  const last = messages[messages.length - 1];
  const userText = lastUserText(messages);

  if (last?.role === "user" && last.content.some((b) => b.toolResult)) {
    const { text, names } = answerToolResults(messages);
    return withThinking(
      req,
      { text, toolUses: [], stopReason: null },
      `The results from ${joinList(names)} are back. I'll read the key details to the caller in a sentence or two and keep it conversational, since this is a phone call.`,
    );
  }

  const t = normalize(userText);
  const entities = entitiesOf(userText);
  const said = `The caller said: "${quote(userText)}".`;

  if (toolChoice.kind === "tool" && toolChoice.name === ANALYSIS_TOOL) {
    const tool = tools.find((x) => x.name === ANALYSIS_TOOL);
    const input = tool ? analysisInput(tool, req.system, messages) : {};
    return withThinking(req, { text: "", toolUses: [{ name: ANALYSIS_TOOL, input }], stopReason: null }, said);
  }

  if (toolChoice.kind === "tool") {
    const tool = tools.find((x) => x.name === toolChoice.name);
    const input = tool ? fillInput(tool, entities, userText, true).input : {};
    return withThinking(req, { text: "", toolUses: [{ name: toolChoice.name, input }], stopReason: null }, said);
  }

  if (INTENTS.goodbye.test(t)) {
    const end = findTool(tools, "end");
    const text = "Thanks for calling, and have a great day. Goodbye!";
    if (!end)
      return withThinking(req, { text, toolUses: [], stopReason: null }, `${said} They are done, so I'll say goodbye.`);
    return withThinking(
      req,
      {
        text,
        toolUses: [{ name: end.name, input: fillInput(end, entities, "caller said goodbye", true).input }],
        stopReason: null,
      },
      `${said} They are done, so I'll say goodbye and end the call with ${end.name}.`,
    );
  }

  if (INTENTS.transfer.test(t)) {
    const transfer = findTool(tools, "transfer");
    if (!transfer) {
      return withThinking(
        req,
        {
          text: "I'm not able to transfer calls right now, but I'm happy to help you myself. What do you need?",
          toolUses: [],
          stopReason: null,
        },
        `${said} They want a person, but I have no transfer tool.`,
      );
    }
    return withThinking(
      req,
      {
        text: "Of course, I'll connect you with someone from the team now.",
        toolUses: [{ name: transfer.name, input: fillInput(transfer, entities, userText, true).input }],
        stopReason: null,
      },
      `${said} They asked for a person, so I'll transfer the call with ${transfer.name}.`,
    );
  }

  const calls: { kind: ToolKind; name: string; input: unknown }[] = [];
  const questions: string[] = [];
  for (const kind of ["order", "hours", "booking"] as const) {
    if (!INTENTS[kind].test(t)) continue;
    const tool = findTool(tools, kind);
    if (!tool) continue;
    const { input, missing } = fillInput(tool, entities, userText, false);
    if (missing.length === 0) calls.push({ kind, name: tool.name, input });
    else if (kind === "order") questions.push("Sure, I can check on that. What's the order number?");
    else if (kind === "booking")
      questions.push("I'd be happy to book that. What day and time would work best for you?");
    else questions.push(`Sure. Could you tell me the ${missing.map(humanKey).join(" and ")}?`);
  }

  if (calls.length === 0 && toolChoice.kind === "any" && tools[0]) {
    const tool = tools[0];
    calls.push({
      kind: kindOfTool(tool.name) ?? "order",
      name: tool.name,
      input: fillInput(tool, entities, userText, true).input,
    });
  }

  if (calls.length > 0) {
    const forced = toolChoice.kind !== "auto";
    const first = calls[0];
    const preface =
      forced || !first
        ? ""
        : calls.length > 1
          ? `Let me check ${calls.length === 2 ? "both" : "all"} of those for you.`
          : first.kind === "order" && entities.orderId
            ? `Let me look up order ${entities.orderId} for you.`
            : first.kind === "hours"
              ? "Let me check our hours for you."
              : first.kind === "booking"
                ? "Let me get that booked for you."
                : "Let me check that for you.";
    const names = calls.map((c) => c.name);
    return withThinking(
      req,
      { text: preface, toolUses: calls.map(({ name, input }) => ({ name, input })), stopReason: null },
      `${said} I need ${joinList(names)} for that, so I'll call ${calls.length > 1 ? "them together" : "it"} and then answer from the result.`,
    );
  }

  if (questions.length > 0) {
    return withThinking(
      req,
      { text: questions.join(" "), toolUses: [], stopReason: null },
      `${said} I can't call the tool yet because something required is missing, so I'll ask for it.`,
    );
  }

  return withThinking(
    req,
    { text: plainAnswer(userText), toolUses: [], stopReason: null },
    `${said} No tool is needed. I'll answer briefly and ask a follow-up question, since this is a phone call.`,
  );
}
