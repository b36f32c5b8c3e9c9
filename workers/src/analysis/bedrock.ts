// Bedrock's Converse operation from workerd: a SigV4-signed HTTPS POST (aws4fetch) to the runtime endpoint. The
// AWS SDK's Bedrock client defaults to HTTP/2 and Node's http modules; Bedrock's endpoint also speaks HTTP/1.1,
// which is what workerd's fetch uses, so a small signed fetch is all the edge needs for one non-streaming call.
import { AwsClient } from "aws4fetch";
import { z } from "zod";

export interface BedrockConfig {
  region: string;
  /** Default https://bedrock-runtime.<region>.amazonaws.com. */
  endpoint?: string | undefined;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

export class BedrockError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(`${type}: ${message}`);
    this.name = "BedrockError";
  }
  /** Throttling and 5xx: worth retrying later (the queue does). */
  get retryable(): boolean {
    return this.status === 429 || this.status >= 500 || this.status === 408;
  }
}

const ConverseResponseSchema = z.object({
  output: z.object({
    message: z.object({
      role: z.literal("assistant"),
      content: z.array(z.record(z.string(), z.unknown())),
    }),
  }),
  stopReason: z.string(),
  usage: z.object({
    inputTokens: z.number().int().nonnegative(),
    outputTokens: z.number().int().nonnegative(),
    cacheReadInputTokens: z.number().int().nonnegative().optional(),
    cacheWriteInputTokens: z.number().int().nonnegative().optional(),
  }),
});
export type ConverseResponse = z.infer<typeof ConverseResponseSchema>;

export function bedrockConverse(config: BedrockConfig) {
  const aws = new AwsClient({
    accessKeyId: config.accessKeyId,
    secretAccessKey: config.secretAccessKey,
    ...(config.sessionToken ? { sessionToken: config.sessionToken } : {}),
    service: "bedrock",
    region: config.region,
    retries: 0,
  });
  const base = (config.endpoint ?? `https://bedrock-runtime.${config.region}.amazonaws.com`).replace(/\/$/, "");
  return async (modelId: string, body: unknown): Promise<ConverseResponse> => {
    const res = await aws.fetch(`${base}/model/${encodeURIComponent(modelId)}/converse`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) {
      const type = (res.headers.get("x-amzn-errortype") ?? `HTTP${res.status}`).split(":")[0] ?? "Error";
      let message = text.slice(0, 500);
      try {
        message = String((JSON.parse(text) as { message?: unknown }).message ?? message);
      } catch {
        // not JSON: keep the text
      }
      throw new BedrockError(res.status, type, message);
    }
    return ConverseResponseSchema.parse(JSON.parse(text));
  };
}
