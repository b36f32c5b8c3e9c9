// Media node configuration, read once at startup from the environment and validated with zod, so a bad
// value stops the node with one line naming the variable instead of failing on the first call.
import { hostname } from "node:os";
import { z } from "zod";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const DEFAULT_DEEPGRAM_EMULATOR = "http://127.0.0.1:8091";
const DEFAULT_BEDROCK_EMULATOR = "http://127.0.0.1:8092";
const KID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const BASE64URL_KEY = /^[A-Za-z0-9_-]{43}$/;

const flag = z
  .enum(["0", "1", "true", "false", ""])
  .optional()
  .transform((v) => v === "1" || v === "true");

const int = (min: number, max: number, fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return fallback;
      if (!/^\d+$/.test(v.trim())) {
        ctx.addIssue({ code: "custom", message: `must be a whole number, got "${v}"` });
        return z.NEVER;
      }
      const n = Number(v);
      if (n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be between ${min} and ${max}, got ${n}` });
        return z.NEVER;
      }
      return n;
    });

const httpUrl = z
  .string()
  .trim()
  .refine((v) => {
    try {
      const u = new URL(v);
      return ["http:", "https:", "ws:", "wss:"].includes(u.protocol);
    } catch {
      return false;
    }
  }, "must be an http(s) or ws(s) URL");

const publicKeys = z
  .string({ error: "is required: kid:base64url-ed25519-public-key[,kid:key…]" })
  .trim()
  .min(1, "is required: kid:base64url-ed25519-public-key[,kid:key…]")
  .transform((v, ctx) => {
    const out: Record<string, string> = {};
    for (const entry of v.split(",")) {
      const [kid, key, extra] = entry.trim().split(":");
      if (!kid || !key || extra !== undefined || !KID_PATTERN.test(kid) || !BASE64URL_KEY.test(key)) {
        ctx.addIssue({
          code: "custom",
          message: `entry "${entry.trim().slice(0, 80)}" is not kid:key (key = 43 base64url characters, a raw Ed25519 public key)`,
        });
        return z.NEVER;
      }
      if (out[kid]) {
        ctx.addIssue({ code: "custom", message: `key id "${kid}" appears twice` });
        return z.NEVER;
      }
      out[kid] = key;
    }
    return out;
  });

const EnvSchema = z.object({
  MEDIA_PORT: int(0, 65_535, 8080),
  MEDIA_HOST: z.string().trim().min(1).default("127.0.0.1"),
  MEDIA_REGION: z
    .string()
    .trim()
    .regex(/^[a-z0-9-]{1,64}$/, "must be a region name like us-east-1 (lower-case letters, digits, dashes)")
    .default("local"),
  MEDIA_NODE_ID: z.string().trim().min(1).max(128).optional(),
  MEDIA_MAX_CALLS: int(1, 100_000, 1_000),
  MEDIA_DRAIN_DEADLINE_MS: int(0, 3_600_000, 120_000),
  MEDIA_DEAD_AIR_MS: int(500, 10_000, 2_000),
  MEDIA_ALLOW_UWS_FALLBACK: flag,
  MEDIA_LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  MEDIA_AGENTS_FILE: z.string().trim().min(1).optional(),
  CALL_TOKEN_PUBLIC_KEYS: publicKeys,
  DEEPGRAM_API_KEY: z.string().trim().min(1).optional(),
  DEEPGRAM_URL: httpUrl.optional(),
  BEDROCK_ENDPOINT: httpUrl.optional(),
  AWS_REGION: z
    .string()
    .trim()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region like us-east-1")
    .default("us-east-1"),
  SESSION_SINK_URL: httpUrl.optional(),
  EDGE_URL: httpUrl.optional(),
  MEDIA_PUBLIC_URL: z
    .string()
    .trim()
    .refine((v) => {
      try {
        const u = new URL(v);
        return (u.protocol === "ws:" || u.protocol === "wss:") && u.search === "" && u.hash === "";
      } catch {
        return false;
      }
    }, "must be a ws:// or wss:// URL without a query string (carriers open media streams on it)")
    .optional(),
  MEDIA_HEARTBEAT_MS: int(1_000, 60_000, 5_000),
  MEDIA_NODE_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
  MEDIA_DRAIN_GOODBYE: z.string().trim().min(1).max(300).optional(),
  MEDIA_RESUME_BRIDGE: z.string().trim().min(1).max(300).optional(),
});

export interface MediaNodeConfig {
  port: number;
  host: string;
  region: string;
  nodeId: string;
  maxCalls: number;
  drainDeadlineMs: number;
  /** Longest silence the caller may hear while the agent owes a reply before a filler line plays. */
  deadAirMs: number;
  allowUwsFallback: boolean;
  logLevel: "debug" | "info" | "warn" | "error" | "silent";
  agentsFile: string | undefined;
  callTokenPublicKeys: Record<string, string>;
  deepgram: { apiKey: string; url: string; emulated: boolean };
  bedrock: { region: string; endpoint: string | undefined; emulated: boolean };
  /** Edge endpoint for session events, and this node's HMAC secret for signing them. */
  sessionSink: { url: string; secret: string } | undefined;
  /**
   * The edge this node registers with (heartbeats) and fetches agent versions from; undefined runs the node
   * stand-alone (agents from MEDIA_AGENTS_FILE, no registration).
   */
  edge:
    | {
        url: string;
        secret: string;
        /** Advertised to the edge for TwiML; undefined = ws://<this node's address>. */
        publicUrl: string | undefined;
        heartbeatMs: number;
      }
    | undefined;
  lines: {
    /** Played when the caller has heard nothing for deadAirMs while the agent owes a reply. */
    filler: string;
    /** Spoken when the model cannot answer at all. */
    apology: string;
    /** Spoken to calls still live when the drain deadline passes. */
    drainGoodbye: string;
    /** Spoken first by a call moved here after its node was lost, before it goes on. */
    bridge: string;
  };
}

export function loadConfig(env: Readonly<Record<string, string | undefined>>): MediaNodeConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? "environment");
    // Messages name the variable and the rule; key and secret values are never echoed back.
    throw new ConfigError(`${variable} ${issue?.message ?? "is invalid"}`.replace(/\s+/g, " "));
  }
  const e = parsed.data;
  const awsCredentialsPresent = Boolean(env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE);
  const deepgramUrl = e.DEEPGRAM_URL ?? (e.DEEPGRAM_API_KEY ? "https://api.deepgram.com" : DEFAULT_DEEPGRAM_EMULATOR);
  const bedrockEndpoint = e.BEDROCK_ENDPOINT ?? (awsCredentialsPresent ? undefined : DEFAULT_BEDROCK_EMULATOR);
  if (e.SESSION_SINK_URL && !e.MEDIA_NODE_SECRET) {
    throw new ConfigError("MEDIA_NODE_SECRET is required when SESSION_SINK_URL is set (it signs the node's requests)");
  }
  if (e.EDGE_URL && !e.MEDIA_NODE_SECRET) {
    throw new ConfigError("MEDIA_NODE_SECRET is required when EDGE_URL is set (it signs the node's requests)");
  }
  if (e.EDGE_URL && !e.MEDIA_NODE_ID) {
    // The edge finds this node's secret by its id, so a generated hostname-pid id could never authenticate.
    throw new ConfigError(
      "MEDIA_NODE_ID is required when EDGE_URL is set (the edge's MEDIA_NODE_SECRETS is keyed by it)",
    );
  }
  const sessionSinkUrl = e.SESSION_SINK_URL ?? (e.EDGE_URL ? `${e.EDGE_URL.replace(/\/+$/, "")}/v1` : undefined);
  return {
    port: e.MEDIA_PORT,
    host: e.MEDIA_HOST,
    region: e.MEDIA_REGION,
    nodeId: e.MEDIA_NODE_ID ?? `${hostname()}-${process.pid}`,
    maxCalls: e.MEDIA_MAX_CALLS,
    drainDeadlineMs: e.MEDIA_DRAIN_DEADLINE_MS,
    deadAirMs: e.MEDIA_DEAD_AIR_MS,
    allowUwsFallback: e.MEDIA_ALLOW_UWS_FALLBACK,
    logLevel: e.MEDIA_LOG_LEVEL,
    agentsFile: e.MEDIA_AGENTS_FILE,
    callTokenPublicKeys: e.CALL_TOKEN_PUBLIC_KEYS,
    deepgram: {
      // The emulator accepts any key; the SDK insists on one.
      apiKey: e.DEEPGRAM_API_KEY ?? "local-emulator-key",
      url: deepgramUrl,
      emulated: !e.DEEPGRAM_API_KEY,
    },
    // Credentials decide real or emulated; an endpoint override alone (a VPC endpoint, a proxy) keeps them.
    bedrock: { region: e.AWS_REGION, endpoint: bedrockEndpoint, emulated: !awsCredentialsPresent },
    sessionSink:
      sessionSinkUrl && e.MEDIA_NODE_SECRET ? { url: sessionSinkUrl, secret: e.MEDIA_NODE_SECRET } : undefined,
    edge:
      e.EDGE_URL && e.MEDIA_NODE_SECRET
        ? {
            url: e.EDGE_URL.replace(/\/+$/, ""),
            secret: e.MEDIA_NODE_SECRET,
            publicUrl: e.MEDIA_PUBLIC_URL?.replace(/\/+$/, ""),
            heartbeatMs: e.MEDIA_HEARTBEAT_MS,
          }
        : undefined,
    lines: {
      filler: "Sorry, one moment…",
      apology: "I'm sorry, I'm having trouble answering right now. Could you say that again?",
      drainGoodbye:
        e.MEDIA_DRAIN_GOODBYE ?? "I'm sorry, I have to end our call now. Please call back and we'll pick up from here.",
      bridge: e.MEDIA_RESUME_BRIDGE ?? "Sorry, I lost you for a second…",
    },
  };
}
