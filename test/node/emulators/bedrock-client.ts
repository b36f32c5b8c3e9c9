// Shared by the Bedrock emulator suites: an SDK client configured the way the platform configures it
// (only endpoint, region and static credentials), plus helpers to collect and fold stream events.
import http2 from "node:http2";
import {
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
  type ContentBlock,
  ConverseStreamCommand,
  type ConverseStreamCommandInput,
  type ConverseStreamOutput,
  type Message,
  type Tool,
} from "@aws-sdk/client-bedrock-runtime";
import type { DocumentType } from "@smithy/types";

export const SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
export const HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0";

export function sdkClient(url: string, extra: Partial<BedrockRuntimeClientConfig> = {}): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    endpoint: url,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "emulator-secret" },
    ...extra,
  });
}

export function toolSpec(name: string, properties: Record<string, DocumentType>, required: string[] = []): Tool {
  return {
    toolSpec: {
      name,
      description: `The ${name.replace(/_/g, " ")} tool.`,
      inputSchema: { json: { type: "object", properties, required } },
    },
  };
}

export const PHONE_TOOLS: Tool[] = [
  toolSpec("lookup_order", { order_id: { type: "string" } }, ["order_id"]),
  toolSpec("get_business_hours", { day: { type: "string" } }),
  toolSpec("book_appointment", { day: { type: "string" }, time: { type: "string" } }, ["day", "time"]),
  toolSpec("transfer_call", { reason: { type: "string" } }, ["reason"]),
  toolSpec("end_call", { reason: { type: "string" } }),
];

export function userText(text: string): Message {
  return { role: "user", content: [{ text }] };
}

export interface StreamResult {
  events: ConverseStreamOutput[];
  /** Milliseconds from sending to the first event. */
  firstEventMs: number;
}

export async function streamAll(
  client: BedrockRuntimeClient,
  input: ConverseStreamCommandInput,
  options: { abortSignal?: AbortSignal } = {},
): Promise<StreamResult> {
  const started = performance.now();
  const out = await client.send(new ConverseStreamCommand(input), options);
  const events: ConverseStreamOutput[] = [];
  let firstEventMs = -1;
  for await (const event of out.stream ?? []) {
    if (firstEventMs < 0) firstEventMs = performance.now() - started;
    events.push(event);
  }
  return { events, firstEventMs };
}

export function eventNames(events: ConverseStreamOutput[]): string[] {
  return events.map((e) => Object.keys(e).find((k) => k !== "$unknown") ?? "?");
}

/** Rebuild the assistant message from stream events, the way a client keeps history. */
export function assistantMessage(events: ConverseStreamOutput[]): Message {
  const blocks = new Map<number, ContentBlock>();
  const toolJson = new Map<number, string>();
  for (const e of events) {
    const start = e.contentBlockStart;
    if (start?.start?.toolUse && start.contentBlockIndex !== undefined) {
      const { toolUseId, name } = start.start.toolUse;
      blocks.set(start.contentBlockIndex, { toolUse: { toolUseId, name, input: {} } });
      toolJson.set(start.contentBlockIndex, "");
    }
    const d = e.contentBlockDelta;
    if (!d?.delta || d.contentBlockIndex === undefined) continue;
    const i = d.contentBlockIndex;
    const current = blocks.get(i);
    if (d.delta.text !== undefined) blocks.set(i, { text: (current?.text ?? "") + d.delta.text });
    if (d.delta.toolUse?.input !== undefined) toolJson.set(i, (toolJson.get(i) ?? "") + d.delta.toolUse.input);
    const r = d.delta.reasoningContent;
    if (r) {
      const prev = current?.reasoningContent?.reasoningText ?? { text: "" };
      blocks.set(i, {
        reasoningContent: {
          reasoningText: {
            text: (prev.text ?? "") + (r.text ?? ""),
            ...(r.signature !== undefined || prev.signature !== undefined
              ? { signature: r.signature ?? prev.signature }
              : {}),
          },
        },
      });
    }
  }
  for (const [i, json] of toolJson) {
    const block = blocks.get(i);
    if (block?.toolUse) block.toolUse.input = JSON.parse(json);
  }
  return { role: "assistant", content: [...blocks.entries()].sort(([a], [b]) => a - b).map(([, b]) => b) };
}

export function streamedText(events: ConverseStreamOutput[]): string {
  return events.map((e) => e.contentBlockDelta?.delta?.text ?? "").join("");
}

export function toolUses(message: Message): { toolUseId: string; name: string; input: unknown }[] {
  return (message.content ?? []).flatMap((b) =>
    b.toolUse ? [{ toolUseId: b.toolUse.toolUseId ?? "", name: b.toolUse.name ?? "", input: b.toolUse.input }] : [],
  );
}

/** A plain HTTP/2 request, for what the SDK never sends (broken JSON, no signature). */
export function rawRequest(
  url: string,
  path: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/json", ...headers });
    let responseHeaders: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on("response", (h) => {
      responseHeaders = h;
    });
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      session.close();
      resolve({ status: Number(responseHeaders[":status"]), headers: responseHeaders, body: Buffer.concat(chunks) });
    });
    req.on("error", reject);
    req.end(body);
  });
}

export const FAKE_SIGV4 =
  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00";

/** About `tokens` tokens of stable system prompt (4 bytes per token). */
export function longPrompt(tokens: number, seed = "Acme Dental"): string {
  const line = `You are the phone receptionist for ${seed}. Keep answers short and friendly. `;
  return line.repeat(Math.ceil((tokens * 4) / line.length));
}
