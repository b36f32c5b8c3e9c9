// Standard Webhooks signatures (https://www.standardwebhooks.com): `webhook-signature: v1,<base64 HMAC-SHA256>` over
// `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the base64 bytes after `whsec_`. Several space-separated
// signatures while a rotated secret is still valid; receivers accept any. WebCrypto only (runs in workerd).

export function secretKeyBytes(secret: string): Uint8Array<ArrayBuffer> {
  const encoded = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  const binary = atob(encoded);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export async function signatureFor(secret: string, id: string, timestampSeconds: number, body: string) {
  const key = await crypto.subtle.importKey("raw", secretKeyBytes(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestampSeconds}.${body}`)),
  );
  let binary = "";
  for (const b of mac) binary += String.fromCharCode(b);
  return `v1,${btoa(binary)}`;
}

/** The three Standard Webhooks headers for one attempt, signed with every secret given. */
export async function webhookHeaders(
  secrets: readonly string[],
  id: string,
  nowMs: number,
  body: string,
): Promise<Record<string, string>> {
  const timestamp = Math.floor(nowMs / 1000);
  const signatures = await Promise.all(secrets.map((s) => signatureFor(s, id, timestamp, body)));
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signatures.join(" "),
  };
}
