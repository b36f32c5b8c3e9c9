// The bindings call control reads. Secrets come from `.dev.vars` locally and `wrangler secret put` deployed;
// every optional one has a documented local default where it is read.
import type { AgentVersionCache } from "./do/agent-version-cache/agent-version-cache.ts";
import type { CallLedger } from "./do/call-ledger/call-ledger.ts";
import type { MediaRegion } from "./do/media-region/media-region.ts";
import type { NumberRouteCache } from "./do/number-route-cache/number-route-cache.ts";
import type { TenantLimiter } from "./do/tenant-limiter/tenant-limiter.ts";
import type { EventsBindings } from "./events/messages.ts";
import type { SecretsBindings } from "./secrets/config.ts";

/** Event webhooks (the queue the call ledger publishes to) and tenant secrets (the KEK keyring) are part of it. */
export interface CallControlEnv extends EventsBindings, SecretsBindings {
  TENANT_LIMITER: DurableObjectNamespace<TenantLimiter>;
  MEDIA_REGION: DurableObjectNamespace<MediaRegion>;
  CALL_LEDGER: DurableObjectNamespace<CallLedger>;
  NUMBER_ROUTE_CACHE: DurableObjectNamespace<NumberRouteCache>;
  AGENT_VERSION_CACHE: DurableObjectNamespace<AgentVersionCache>;

  /** Fallback database for every jurisdiction (local: the one Postgres or PGlite). */
  DATABASE_URL: string;
  DATABASE_URL_US?: string | undefined;
  DATABASE_URL_EU?: string | undefined;
  /** `host:port` of the loopback Postgres WebSocket proxy; unset in production. */
  DB_WS_PROXY?: string | undefined;
  /** "on" applies Durable Object jurisdictions (production); workerd throws on them, so unset locally. */
  DO_JURISDICTIONS?: string | undefined;

  TWILIO_AUTH_TOKEN?: string | undefined;
  TWILIO_ACCOUNT_SID?: string | undefined;
  /** Base URL of Twilio's REST API; tests point it at a fake. Default https://api.twilio.com. */
  TWILIO_API_BASE?: string | undefined;
  /** Public base URL Twilio calls us at (for signature checks behind proxies and for callback URLs). */
  PUBLIC_BASE_URL?: string | undefined;

  TELNYX_PUBLIC_KEY?: string | undefined;
  TELNYX_API_KEY?: string | undefined;
  /** Default https://api.telnyx.com. */
  TELNYX_API_BASE?: string | undefined;

  /** base64url PKCS#8 Ed25519 private key and its key id (shared/call-token.ts). */
  CALL_TOKEN_PRIVATE_KEY?: string | undefined;
  CALL_TOKEN_KID?: string | undefined;
  /** JSON object node id → HMAC secret (shared/media-node-auth.ts). */
  MEDIA_NODE_SECRETS?: string | undefined;
  /** Secret keying the verification-code hashes; without it codes are hashed with a per-row salt only. */
  VERIFY_CODE_SECRET?: string | undefined;
  /**
   * Comma-separated account IDs that run support lines and may verify any account's owner (POST /v1/verify).
   * Every other account may only verify its own owner: texting codes to strangers is not a tenant feature.
   */
  SUPPORT_TENANT_IDS?: string | undefined;
}
