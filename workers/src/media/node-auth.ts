// The edge side of media-node authentication (shared/media-node-auth.ts): which nodes exist and their secrets.
import { z } from "zod";
import { type NodeAuthVerdict, verifyNodeRequest } from "../../../shared/media-node-auth.ts";

const secretsSchema = z.record(
  z.string().min(1).max(128),
  z.string().min(16, "node secrets need at least 16 characters"),
);

/**
 * MEDIA_NODE_SECRETS: a JSON object node id → secret (a wrangler var may also arrive already parsed). A value
 * that does not parse authenticates nobody, loudly, rather than everybody.
 */
export function parseNodeSecrets(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null || raw === "") return {};
  let value: unknown = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      console.error("MEDIA_NODE_SECRETS is not JSON; no media node can authenticate");
      return {};
    }
  }
  const parsed = secretsSchema.safeParse(value);
  if (!parsed.success) {
    console.error(
      "MEDIA_NODE_SECRETS is not an object of node id → secret (16+ chars); no media node can authenticate",
    );
    return {};
  }
  return parsed.data;
}

export async function authenticateNode(request: Request, body: string, rawSecrets: unknown): Promise<NodeAuthVerdict> {
  return verifyNodeRequest({
    secrets: parseNodeSecrets(rawSecrets),
    headers: request.headers,
    method: request.method,
    url: request.url,
    body,
  });
}
