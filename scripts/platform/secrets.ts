// What a local run needs that a deployment keeps in its secret store: the call-token signing key (the edge
// signs, the media node verifies), the media node's HMAC secret, a Twilio auth token to sign the simulated
// carrier's webhooks, and the key-encryption key of tenants' secrets. Generated once into `.data/local-secrets.json` (git-ignored, mode 0600) and reused, so a
// restart keeps the same values and `npm run call` can sign with the token the edge checks.
//
// A TWILIO_AUTH_TOKEN set in the environment or in .dev.vars wins over the generated one (and is never
// written to the file): with real Twilio numbers pointed at this edge, the signatures must be Twilio's.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { generateCallTokenKeyPair } from "../../shared/call-token.ts";

export const LOCAL_SECRETS_FILE = "local-secrets.json";
/** The media node `npm start` runs; the edge's MEDIA_NODE_SECRETS names it. */
export const LOCAL_NODE_ID = "local-node-1";

const SecretsSchema = z.object({
  callToken: z.object({ kid: z.string().min(1), privateKey: z.string().min(1), publicKey: z.string().length(43) }),
  nodeSecret: z.string().min(16),
  twilioAuthToken: z.string().min(16),
  // The key-encryption key wrapping tenants' data keys (workers/src/secrets/): base64 of 32 bytes. Optional in the
  // file only so a file from before it existed is extended rather than replaced (its other keys stay valid).
  secretsKek: z.string().length(44).optional(),
});
export type LocalSecrets = z.infer<typeof SecretsSchema> & { secretsKek: string };

export async function loadOrCreateLocalSecrets(dataDir: string): Promise<{ secrets: LocalSecrets; created: boolean }> {
  const file = path.join(dataDir, LOCAL_SECRETS_FILE);
  if (existsSync(file)) {
    const parsed = SecretsSchema.safeParse(safeJson(readFileSync(file, "utf8")));
    if (parsed.success) {
      if (parsed.data.secretsKek)
        return { secrets: { ...parsed.data, secretsKek: parsed.data.secretsKek }, created: false };
      // Never regenerated once written: data keys in the database are wrapped by it.
      const secrets = { ...parsed.data, secretsKek: randomBytes(32).toString("base64") };
      writeSecrets(dataDir, file, secrets);
      return { secrets, created: false };
    }
    // A damaged file is replaced, not trusted: everything in it is regenerated together.
  }
  const keys = await generateCallTokenKeyPair();
  const secrets: LocalSecrets = {
    callToken: { kid: keys.kid, privateKey: keys.privateKey, publicKey: keys.publicKey },
    nodeSecret: randomBytes(32).toString("hex"),
    twilioAuthToken: randomBytes(16).toString("hex"),
    secretsKek: randomBytes(32).toString("base64"),
  };
  writeSecrets(dataDir, file, secrets);
  return { secrets, created: true };
}

function writeSecrets(dataDir: string, file: string, secrets: LocalSecrets): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** The edge's KEK bindings for a local run (a Workers-secret KEK named `local`). */
export function localKekVars(secrets: LocalSecrets): { SECRETS_KEK: string; SECRETS_KEKS: string } {
  return { SECRETS_KEK: "secret:local", SECRETS_KEKS: JSON.stringify({ local: secrets.secretsKek }) };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `.dev.vars` (dotenv syntax) as a record; empty when there is none. */
export function readDevVars(dir: string): Record<string, string> {
  const file = path.join(dir, ".dev.vars");
  if (!existsSync(file)) return {};
  const out: Record<string, string> = {};
  for (const raw of readFileSync(file, "utf8").split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(raw);
    if (!m?.[1] || m[2] === undefined) continue;
    let value = m[2];
    const quoted = /^(["'])(.*)\1$/.exec(value);
    if (quoted?.[2] !== undefined) value = quoted[2];
    else value = value.replace(/\s+#.*$/, "");
    out[m[1]] = value;
  }
  return out;
}

/** The token the edge checks webhook signatures with: environment, then .dev.vars, then the generated one. */
export function twilioAuthTokenFor(
  env: Readonly<Record<string, string | undefined>>,
  secrets: LocalSecrets,
): { token: string; source: "environment" | "generated" } {
  const given = env.TWILIO_AUTH_TOKEN?.trim();
  return given ? { token: given, source: "environment" } : { token: secrets.twilioAuthToken, source: "generated" };
}
