/**
 * How a media node authenticates its requests to the edge (heartbeats, session events, prompt-prefix
 * fetches): HMAC-SHA256 with a secret only that node and the edge know, one secret per node, so a leaked
 * node configuration is revoked by removing one entry on the edge.
 *
 * Headers:
 *   X-Aybiza-Node-Id:   the node's id (the edge's `MEDIA_NODE_SECRETS` maps it to its secret)
 *   X-Aybiza-Timestamp: epoch milliseconds when signed
 *   X-Aybiza-Signature: `v1=` + hex HMAC-SHA256(secret, canonical)
 * canonical = "v1\n" + timestamp + "\n" + nodeId + "\n" + METHOD + "\n" + path?query + "\n" + hex SHA-256(body)
 *
 * The method, path and body are covered so a captured heartbeat cannot be replayed as an event post; the
 * timestamp bounds replays of the same request to the skew window, and every receiver is idempotent
 * within it (heartbeats keep the newest timestamp, events are keyed by their sequence).
 */

export const NODE_ID_HEADER = "x-aybiza-node-id";
export const NODE_TIMESTAMP_HEADER = "x-aybiza-timestamp";
export const NODE_SIGNATURE_HEADER = "x-aybiza-signature";
export const NODE_AUTH_SKEW_MS = 300_000;

const encoder = new TextEncoder();

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function canonical(nodeId: string, timestamp: string, method: string, url: string, body: string) {
  const target = new URL(url, "http://edge.invalid");
  const bodyHash = hex(await crypto.subtle.digest("SHA-256", encoder.encode(body)));
  return `v1\n${timestamp}\n${nodeId}\n${method.toUpperCase()}\n${target.pathname}${target.search}\n${bodyHash}`;
}

async function mac(secret: string, data: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return hex(await crypto.subtle.sign("HMAC", key, encoder.encode(data)));
}

/** Headers to add to a request from node `nodeId`. `url` may be absolute or a path. */
export async function signNodeRequest(input: {
  nodeId: string;
  secret: string;
  method: string;
  url: string;
  body?: string;
  now?: number;
}): Promise<Record<string, string>> {
  const timestamp = String(input.now ?? Date.now());
  const data = await canonical(input.nodeId, timestamp, input.method, input.url, input.body ?? "");
  return {
    [NODE_ID_HEADER]: input.nodeId,
    [NODE_TIMESTAMP_HEADER]: timestamp,
    [NODE_SIGNATURE_HEADER]: `v1=${await mac(input.secret, data)}`,
  };
}

export type NodeAuthVerdict =
  | { ok: true; nodeId: string }
  | { ok: false; reason: "missing" | "unknown-node" | "stale" | "bad-signature" };

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Checks a request's node signature against the secrets the receiver holds (node id → secret). */
export async function verifyNodeRequest(input: {
  secrets: Readonly<Record<string, string>>;
  headers: { get(name: string): string | null };
  method: string;
  url: string;
  body: string;
  now?: number;
  skewMs?: number;
}): Promise<NodeAuthVerdict> {
  const nodeId = input.headers.get(NODE_ID_HEADER);
  const timestamp = input.headers.get(NODE_TIMESTAMP_HEADER);
  const signature = input.headers.get(NODE_SIGNATURE_HEADER);
  if (!nodeId || !timestamp || !signature) return { ok: false, reason: "missing" };
  const secret = Object.hasOwn(input.secrets, nodeId) ? input.secrets[nodeId] : undefined;
  if (!secret) return { ok: false, reason: "unknown-node" };
  if (!/^\d{1,16}$/.test(timestamp)) return { ok: false, reason: "stale" };
  if (Math.abs((input.now ?? Date.now()) - Number(timestamp)) > (input.skewMs ?? NODE_AUTH_SKEW_MS)) {
    return { ok: false, reason: "stale" };
  }
  const expected = `v1=${await mac(secret, await canonical(nodeId, timestamp, input.method, input.url, input.body))}`;
  return constantTimeEqual(expected, signature) ? { ok: true, nodeId } : { ok: false, reason: "bad-signature" };
}
