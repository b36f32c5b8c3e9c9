import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { buildConsole } from "./scripts/build-console.mjs";
import { accountIdFromData } from "./shared/ids.ts";

// Worker suites, run inside workerd against a real database through the loopback proxy, exactly as the Worker
// runs under `wrangler dev`. scripts/with-db.ts starts the database and proxy and sets these two variables;
// scripts/test.mjs runs this once per backend (PostgreSQL, PGlite).
// TEST_DATABASE_URL_EU is a second database (same backend, same proxy) that only the residency suite points
// DATABASE_URL_EU at; every other suite keeps all jurisdictions on DATABASE_URL. TEST_DATABASE_URL_HUNG and _DOWN
// are a database that never answers and one that refuses (the outage suites point requests at them).
const {
  DATABASE_URL,
  DB_WS_PROXY,
  TEST_DATABASE_URL_EU = "",
  TEST_DATABASE_URL_HUNG = "",
  TEST_DATABASE_URL_DOWN = "",
} = process.env;
if (!DATABASE_URL || !DB_WS_PROXY) {
  throw new Error(
    "DATABASE_URL and DB_WS_PROXY are not set. Run the Worker suites through the database wrapper:\n" +
      "  npx tsx scripts/with-db.ts pglite -- npx vitest run --config vitest.workers.config.ts",
  );
}

// wrangler.toml serves the console's bundled browser code as static assets; the directory must exist.
await buildConsole();

// Throwaway keys for this run: the call-token signing key (its public half lets tests verify minted tokens) and
// a Telnyx webhook key pair (tests sign webhooks with the private half). Carrier APIs point at hosts that only
// exist inside the tests' fetch stubs.
const b64u = (bytes: ArrayBuffer) => Buffer.from(bytes).toString("base64url");
const callKeys = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
const telnyxKeys = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
const callControl = {
  CALL_TOKEN_PRIVATE_KEY: b64u((await crypto.subtle.exportKey("pkcs8", callKeys.privateKey)) as ArrayBuffer),
  CALL_TOKEN_KID: "test-kid",
  TEST_CALL_TOKEN_PUBLIC_KEY: b64u((await crypto.subtle.exportKey("raw", callKeys.publicKey)) as ArrayBuffer),
  TELNYX_PUBLIC_KEY: Buffer.from((await crypto.subtle.exportKey("raw", telnyxKeys.publicKey)) as ArrayBuffer).toString(
    "base64",
  ),
  TEST_TELNYX_PRIVATE_KEY: b64u((await crypto.subtle.exportKey("pkcs8", telnyxKeys.privateKey)) as ArrayBuffer),
  TWILIO_AUTH_TOKEN: "test-twilio-auth-token",
  TWILIO_ACCOUNT_SID: `AC${"1".repeat(32)}`,
  TWILIO_API_BASE: "https://twilio.fake",
  TELNYX_API_BASE: "https://telnyx.fake",
  TELNYX_API_KEY: "test-telnyx-key",
  PUBLIC_BASE_URL: "https://edge.test",
  MEDIA_NODE_SECRETS: JSON.stringify({
    "node-test-1": "node-test-secret-0001",
    "node-test-2": "node-test-secret-0002",
  }),
  VERIFY_CODE_SECRET: "test-verify-secret",
  // The one account allowed to verify any account's owner (test/workers/call-control/verify-*.test.ts).
  SUPPORT_TENANT_IDS: accountIdFromData("SPPQRT23456"),
  // A throwaway key-encryption key for tenants' secrets; TEST_KEK_ALT is a second one the rotation suite rotates to.
  SECRETS_KEK: "secret:test",
  SECRETS_KEKS: JSON.stringify({ test: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64") }),
  TEST_KEK_ALT: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"),
};

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          DATABASE_URL,
          DB_WS_PROXY,
          TEST_DATABASE_URL_EU,
          TEST_DATABASE_URL_HUNG,
          TEST_DATABASE_URL_DOWN,
          ...callControl,
        },
      },
    }),
  ],
  test: {
    include: ["test/workers/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
