import { z } from "zod";

/**
 * The call token: the edge signs one per call, the media node checks it before touching any provider.
 *
 * Format `v1.<kid>.<base64url(JSON claims)>.<base64url(signature)>`, Ed25519 over the ASCII bytes of
 * `v1.<kid>.<payload>`. Ed25519 rather than an HMAC so media nodes hold only public keys: a node that
 * leaks its configuration cannot mint tokens. Several public keys by `kid` allow rotation.
 */

export const DEFAULT_CALL_TOKEN_TTL_MS = 60_000;
export const DEFAULT_CLOCK_SKEW_MS = 5_000;

const VERSION = "v1";
const ED25519 = { name: "Ed25519" } as const;
const KID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*$/;
/** Far above any real token; stops a hostile peer from making us decode megabytes. */
const MAX_TOKEN_LENGTH = 4096;
const SIGNATURE_BYTES = 64;
const NONCE_BYTES = 16;

const subjectSchema = z.object({
  callId: z.string().min(1).max(128),
  tenantId: z.string().min(1).max(128),
  agentId: z.string().min(1).max(128),
  agentVersion: z.number().int().nonnegative(),
  /** `hash` from `compilePromptPrefix` (prompt-prefix.ts): the node checks it against the prefix it builds. */
  prefixHash: z.string().regex(/^[0-9a-f]{64}$/),
  region: z.string().min(1).max(64),
  /**
   * The carrier's own ID for the call (Twilio CallSid, Telnyx call_control_id), which the carrier repeats in the
   * stream's `start`. The node refuses a token whose carrier call is not the stream's, so a token lifted from one
   * call cannot admit another. Absent for calls with no carrier (browser sessions, benchmarks).
   */
  carrierCallId: z.string().min(1).max(256).optional(),
  /**
   * Set only on a token minted to resume a live call on another node after its node was lost: the number of that
   * resume (1 for the first). The admitting node then fetches the call's checkpoint from the edge instead of
   * starting a new conversation; the edge hands it out once per resume, to the node the call is routed to.
   */
  resume: z.number().int().min(1).max(100).optional(),
});

export const CallTokenClaimsSchema = subjectSchema
  .extend({
    iat: z.number().int().nonnegative(),
    exp: z.number().int().positive(),
    nonce: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/),
  })
  .refine((claims) => claims.exp > claims.iat, { message: "exp must be after iat" });

export type CallTokenClaims = z.infer<typeof CallTokenClaimsSchema>;
/** What the edge supplies; the signer adds `iat`, `exp` and `nonce`. */
export type CallTokenSubject = z.infer<typeof subjectSchema>;

export type CallTokenFailureReason =
  | "malformed"
  | "unknown-key"
  | "bad-signature"
  | "expired"
  | "not-yet-valid"
  | "call-mismatch";

export type CallTokenVerification =
  | { readonly ok: true; readonly claims: CallTokenClaims }
  | { readonly ok: false; readonly reason: CallTokenFailureReason; readonly message: string };

export interface CallTokenSigner {
  readonly kid: string;
  sign(subject: CallTokenSubject, options?: { ttlMs?: number; now?: number }): Promise<string>;
}

export interface CallTokenVerifier {
  verify(token: string, options?: { now?: number; expectedCallId?: string }): Promise<CallTokenVerification>;
}

export interface CallTokenKeyPair {
  readonly kid: string;
  /** base64url PKCS#8; for the edge only. */
  readonly privateKey: string;
  /** base64url raw 32-byte key; for media nodes. */
  readonly publicKey: string;
}

const encoder = new TextEncoder();

function toBase64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * Strict decode: only the canonical spelling is accepted, so no two token strings carry the same
 * bytes (otherwise the unused low bits of the last character could be flipped unnoticed).
 */
function fromBase64url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!BASE64URL_PATTERN.test(text) || text.length % 4 === 1) return undefined;
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return toBase64url(bytes) === text ? bytes : undefined;
}

function requireKeyBytes(text: string, what: string): Uint8Array<ArrayBuffer> {
  const bytes = fromBase64url(text.trim());
  if (bytes === undefined || bytes.length === 0) throw new Error(`Call token ${what} is not base64url`);
  return bytes;
}

function requireKid(kid: string): string {
  if (!KID_PATTERN.test(kid)) throw new Error(`Call token key id "${kid}" must match ${KID_PATTERN.source}`);
  return kid;
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  // The copy pins the buffer type to ArrayBuffer, which the DOM typing of digest() insists on.
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
}

/** A fresh key pair; the kid is derived from the public key so the same key always has the same id. */
export async function generateCallTokenKeyPair(): Promise<CallTokenKeyPair> {
  const pair = (await crypto.subtle.generateKey(ED25519, true, ["sign", "verify"])) as CryptoKeyPair;
  const raw = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  const pkcs8 = new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer);
  return {
    kid: toBase64url((await sha256(raw)).slice(0, 12)),
    privateKey: toBase64url(pkcs8),
    publicKey: toBase64url(raw),
  };
}

export async function importCallTokenSigner(privateKey: string, kid: string): Promise<CallTokenSigner> {
  requireKid(kid);
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey("pkcs8", requireKeyBytes(privateKey, "private key"), ED25519, false, ["sign"]);
  } catch (cause) {
    throw new Error("Call token private key is not an Ed25519 PKCS#8 key", { cause });
  }
  return {
    kid,
    async sign(subject, options = {}) {
      const now = options.now ?? Date.now();
      const ttlMs = options.ttlMs ?? DEFAULT_CALL_TOKEN_TTL_MS;
      if (!Number.isInteger(now) || !Number.isInteger(ttlMs) || ttlMs <= 0) {
        throw new RangeError("Call token now and ttlMs must be integers, ttlMs positive");
      }
      const nonce = toBase64url(crypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
      // Parsing drops anything the caller added beyond the schema, so only known claims are signed.
      const claims: CallTokenClaims = { ...subjectSchema.parse(subject), iat: now, exp: now + ttlMs, nonce };
      const signingInput = `${VERSION}.${kid}.${toBase64url(encoder.encode(JSON.stringify(claims)))}`;
      const signature = new Uint8Array(await crypto.subtle.sign(ED25519, key, encoder.encode(signingInput)));
      return `${signingInput}.${toBase64url(signature)}`;
    },
  };
}

function failure(reason: CallTokenFailureReason, message: string): CallTokenVerification {
  return { ok: false, reason, message };
}

/** Accepts tokens signed by any of the given keys (kid → base64url raw public key), for rotation. */
export async function importCallTokenVerifier(
  publicKeysByKid: Readonly<Record<string, string>>,
  options: { clockSkewMs?: number } = {},
): Promise<CallTokenVerifier> {
  const clockSkewMs = options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  const keys = new Map<string, CryptoKey>();
  for (const [kid, publicKey] of Object.entries(publicKeysByKid)) {
    requireKid(kid);
    try {
      keys.set(
        kid,
        await crypto.subtle.importKey("raw", requireKeyBytes(publicKey, "public key"), ED25519, false, ["verify"]),
      );
    } catch (cause) {
      throw new Error(`Call token public key "${kid}" is not a raw Ed25519 key`, { cause });
    }
  }
  if (keys.size === 0) throw new Error("Call token verifier needs at least one public key");

  return {
    async verify(token, verifyOptions = {}) {
      const now = verifyOptions.now ?? Date.now();
      const parts = token.length <= MAX_TOKEN_LENGTH ? token.split(".") : [];
      const [version, kid, payload, signatureText] = parts;
      if (parts.length !== 4 || version !== VERSION || kid === undefined || !KID_PATTERN.test(kid)) {
        return failure("malformed", "Call token is not a v1 token");
      }
      const payloadBytes = fromBase64url(payload ?? "");
      const signature = fromBase64url(signatureText ?? "");
      if (payloadBytes === undefined || signature === undefined || signature.length !== SIGNATURE_BYTES) {
        return failure("malformed", "Call token payload or signature is not base64url");
      }
      const key = keys.get(kid);
      if (key === undefined) return failure("unknown-key", `Call token key "${kid}" is not trusted here`);
      const signed = encoder.encode(`${VERSION}.${kid}.${payload}`);
      if (!(await crypto.subtle.verify(ED25519, key, signature, signed))) {
        return failure("bad-signature", "Call token signature does not verify");
      }
      // Only signed bytes reach the JSON parser.
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(payloadBytes));
      } catch {
        return failure("malformed", "Call token payload is not JSON");
      }
      const parsed = CallTokenClaimsSchema.safeParse(json);
      if (!parsed.success) return failure("malformed", `Call token claims are invalid: ${parsed.error.message}`);
      const claims = parsed.data;
      if (now >= claims.exp + clockSkewMs) return failure("expired", "Call token has expired");
      if (now < claims.iat - clockSkewMs) return failure("not-yet-valid", "Call token is not valid yet");
      if (verifyOptions.expectedCallId !== undefined && claims.callId !== verifyOptions.expectedCallId) {
        return failure("call-mismatch", "Call token was issued for another call");
      }
      return { ok: true, claims };
    },
  };
}

/**
 * Remembers nonces until their token can no longer verify, so each token is accepted once per
 * process. Each `consume` first drops what has expired, so memory holds only the tokens issued
 * within one TTL + grace. Per node: it does not stop the same token on two nodes of a region.
 */
export class NonceLedger {
  readonly #graceMs: number;
  readonly #seen = new Set<string>();
  /** Min-heap on expiry; tokens with different TTLs expire out of arrival order. */
  readonly #heap: { dropAt: number; nonce: string }[] = [];

  /** `graceMs` must be at least the verifier's clock skew, which keeps a token valid past `exp`. */
  constructor(options: { graceMs?: number } = {}) {
    this.#graceMs = options.graceMs ?? DEFAULT_CLOCK_SKEW_MS;
  }

  get size(): number {
    return this.#seen.size;
  }

  /** True the first time a live nonce is seen; false for a replay or for a token already past expiry. */
  consume(nonce: string, expMs: number, now: number = Date.now()): boolean {
    this.#dropExpired(now);
    const dropAt = expMs + this.#graceMs;
    if (dropAt <= now || this.#seen.has(nonce)) return false;
    this.#seen.add(nonce);
    this.#push({ dropAt, nonce });
    return true;
  }

  #dropExpired(now: number): void {
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]!.dropAt <= now) {
      this.#seen.delete(heap[0]!.nonce);
      const last = heap.pop()!;
      if (heap.length === 0) break;
      heap[0] = last;
      for (let i = 0; ; ) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && heap[left]!.dropAt < heap[smallest]!.dropAt) smallest = left;
        if (right < heap.length && heap[right]!.dropAt < heap[smallest]!.dropAt) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
  }

  #push(entry: { dropAt: number; nonce: string }): void {
    const heap = this.#heap;
    heap.push(entry);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.dropAt <= heap[i]!.dropAt) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }
}
