// Trust boundary of the emulator: credentials and query parameters, validated the way the service answers.
import { z } from "zod";
import type { OutputEncoding, RawEncoding } from "./audio.ts";

export interface ApiError {
  status: number;
  errCode: string;
  errMsg: string;
}

// ── Credentials ───────────────────────────────────────────────────────────────

export type Credential = { scheme: "token" | "bearer"; secret: string };

/**
 * Reads the credential the way the service accepts it: `Authorization: Token <key>` / `Bearer <jwt>`, or for
 * clients that cannot set headers, the `Sec-WebSocket-Protocol: token, <key>` (or `bearer, <jwt>`) pair.
 */
export function readCredential(authorization: string | undefined, subprotocols: string | undefined): Credential | null {
  if (authorization) {
    const m = /^\s*(token|bearer)\s+(\S+)\s*$/i.exec(authorization);
    if (m?.[1] && m[2]) return { scheme: m[1].toLowerCase() === "token" ? "token" : "bearer", secret: m[2] };
    return null;
  }
  if (subprotocols) {
    const parts = subprotocols.split(",").map((p) => p.trim());
    for (let i = 0; i < parts.length - 1; i++) {
      const scheme = parts[i]?.toLowerCase();
      const secret = parts[i + 1];
      if ((scheme === "token" || scheme === "bearer") && secret) return { scheme, secret };
    }
  }
  return null;
}

export function credentialAccepted(cred: Credential | null, apiKeys: readonly string[] | undefined): boolean {
  if (!cred || cred.secret.length === 0) return false;
  if (apiKeys) return apiKeys.includes(cred.secret);
  return cred.secret !== "invalid";
}

export const INVALID_AUTH: ApiError = { status: 401, errCode: "INVALID_AUTH", errMsg: "Invalid credentials." };

// ── Query strings ─────────────────────────────────────────────────────────────

const REPEATABLE = new Set(["keyterm", "keywords", "tag", "extra", "redact", "replace", "search"]);

/** URLSearchParams → plain object; parameters the service lets clients repeat become arrays. */
export function queryObject(search: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of search) {
    if (REPEATABLE.has(key)) {
      const prev = out[key];
      out[key] = Array.isArray(prev) ? [...prev, value] : [value];
    } else {
      out[key] = value;
    }
  }
  return out;
}

const bool = z.enum(["true", "false"], { error: "must be true or false" }).transform((v) => v === "true");
const intString = (min: number, max: number) =>
  z.string().regex(/^\d+$/, { error: "must be an integer" }).transform(Number).pipe(z.number().int().min(min).max(max));
const stringList = z.array(z.string().max(1000)).max(100);

const LISTEN_ENCODINGS = [
  "linear16",
  "linear32",
  "flac",
  "alaw",
  "mulaw",
  "amr-nb",
  "amr-wb",
  "opus",
  "ogg-opus",
  "speex",
  "g729",
] as const;
const DECODABLE: readonly string[] = ["linear16", "linear32", "mulaw", "alaw"];

const LISTEN_MODEL =
  /^(?:(?:nova-3|nova-2|nova|enhanced|base)(?:-[a-z]+)?|general|meeting|phonecall|finance|conversationalai|voicemail|video|custom)$/;

const listenQuery = z.looseObject({
  model: z.string().regex(LISTEN_MODEL, { error: "No such model/language/tier combination found." }).optional(),
  encoding: z.enum(LISTEN_ENCODINGS, { error: `must be one of ${LISTEN_ENCODINGS.join(", ")}` }).optional(),
  sample_rate: intString(1000, 192_000).optional(),
  channels: intString(1, 32).optional(),
  multichannel: bool.optional(),
  interim_results: bool.optional(),
  endpointing: z
    .union([z.literal("false"), z.literal("true"), intString(0, 60_000)], {
      error: "must be an integer number of milliseconds or false",
    })
    .optional(),
  utterance_end_ms: intString(1, 60_000).optional(),
  vad_events: bool.optional(),
  smart_format: bool.optional(),
  punctuate: bool.optional(),
  numerals: bool.optional(),
  profanity_filter: bool.optional(),
  dictation: bool.optional(),
  diarize: bool.optional(),
  detect_entities: bool.optional(),
  filler_words: bool.optional(),
  mip_opt_out: bool.optional(),
  language: z
    .string()
    .regex(/^(?:multi|[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)$/, { error: "is not a language tag" })
    .optional(),
  keyterm: stringList.optional(),
  keywords: stringList.optional(),
  tag: z.array(z.string().min(1).max(128)).max(20).optional(),
});

export interface ListenConfig {
  model: string;
  /** null: no encoding given, so the audio must carry its own header (WAV). */
  encoding: RawEncoding | null;
  sampleRate: number;
  channels: number;
  interimResults: boolean;
  /** null when endpointing=false. */
  endpointingMs: number | null;
  utteranceEndMs: number | null;
  vadEvents: boolean;
  punctuate: boolean;
  smartFormat: boolean;
  numerals: boolean;
  language: string;
  keyterms: string[];
  tags: string[];
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const param = issue.path.length > 0 ? String(issue.path[0]) : "query";
  return `Invalid query parameter \`${param}\`: ${issue.message}`;
}

export function parseListenQuery(
  search: URLSearchParams,
): { ok: true; config: ListenConfig } | { ok: false; error: ApiError } {
  const parsed = listenQuery.safeParse(queryObject(search));
  const bad = (errMsg: string, errCode = "INVALID_QUERY_PARAMETER"): { ok: false; error: ApiError } => ({
    ok: false,
    error: { status: 400, errCode, errMsg },
  });
  if (!parsed.success) return bad(describeIssue(parsed.error.issues[0] as z.core.$ZodIssue));
  const q = parsed.data;
  const model = q.model ?? "base";
  const isNova3 = model === "nova-3" || model.startsWith("nova-3-");
  if (q.encoding && q.sample_rate === undefined) return bad("sample_rate is required when encoding is specified.");
  if (q.encoding && !DECODABLE.includes(q.encoding)) {
    return bad(
      `The Deepgram emulator cannot decode encoding=${q.encoding}; use linear16, linear32, mulaw or alaw.`,
      "UNSUPPORTED_BY_EMULATOR",
    );
  }
  if (q.keywords?.some((k) => k.trim().length > 0) && isNova3) {
    return bad("Keywords are not supported for Nova-3. Please use `keyterm` instead.");
  }
  if (q.keyterm && q.keyterm.length > 0 && !isNova3)
    return bad("Keyterm prompting is only available for Nova-3 models.");
  if (q.utterance_end_ms !== undefined && q.interim_results !== true) {
    return bad("utterance_end_ms requires interim_results=true.");
  }
  const endpointing = q.endpointing === undefined || q.endpointing === "true" ? 10 : q.endpointing;
  return {
    ok: true,
    config: {
      model,
      encoding: (q.encoding as RawEncoding | undefined) ?? null,
      sampleRate: q.sample_rate ?? 16_000,
      channels: q.channels ?? 1,
      interimResults: q.interim_results ?? false,
      endpointingMs: endpointing === "false" ? null : endpointing,
      utteranceEndMs: q.utterance_end_ms ?? null,
      vadEvents: q.vad_events ?? false,
      punctuate: q.punctuate ?? false,
      smartFormat: q.smart_format ?? false,
      numerals: q.numerals ?? false,
      language: q.language ?? "en",
      keyterms: q.keyterm ?? [],
      tags: q.tag ?? [],
    },
  };
}

// ── Text-to-speech ────────────────────────────────────────────────────────────

const SPEAK_MODEL = /^aura-(?:2-)?[a-z]+-[a-z]{2}$/;
const SPEAK_RATES = [8000, 16000, 24000, 32000, 44100, 48000] as const;
const REST_ONLY_ENCODINGS = ["mp3", "flac", "opus", "aac"] as const;

const speakQuery = z.looseObject({
  model: z.string().regex(SPEAK_MODEL, { error: "is not a known voice model" }).optional(),
  encoding: z
    .enum(["linear16", "mulaw", "alaw", ...REST_ONLY_ENCODINGS], { error: "must be linear16, mulaw or alaw" })
    .optional(),
  sample_rate: intString(1, 192_000)
    .refine((v) => (SPEAK_RATES as readonly number[]).includes(v), {
      error: `must be one of ${SPEAK_RATES.join(", ")}`,
    })
    .optional(),
  container: z.enum(["wav", "none"], { error: "must be wav or none" }).optional(),
  speed: z
    .string()
    .regex(/^\d+(?:\.\d+)?$/, { error: "must be a number" })
    .transform(Number)
    .pipe(z.number().min(0.7).max(1.5))
    .optional(),
  mip_opt_out: bool.optional(),
  tag: z.array(z.string().max(128)).optional(),
});

export interface SpeakConfig {
  model: string;
  encoding: OutputEncoding;
  sampleRate: number;
  container: "wav" | "none";
  speed: number;
}

export function parseSpeakQuery(
  search: URLSearchParams,
  transport: "ws" | "rest",
): { ok: true; config: SpeakConfig } | { ok: false; error: ApiError } {
  const parsed = speakQuery.safeParse(queryObject(search));
  const bad = (errMsg: string, errCode = "INVALID_QUERY_PARAMETER"): { ok: false; error: ApiError } => ({
    ok: false,
    error: { status: 400, errCode, errMsg },
  });
  if (!parsed.success) return bad(describeIssue(parsed.error.issues[0] as z.core.$ZodIssue));
  const q = parsed.data;
  // REST defaults to mp3, which the emulator cannot produce; say so instead of sending the wrong format.
  const encoding = q.encoding ?? (transport === "ws" ? "linear16" : "mp3");
  if (encoding === "mp3" || encoding === "flac" || encoding === "opus" || encoding === "aac") {
    return bad(
      transport === "ws"
        ? `Invalid query parameter \`encoding\`: must be linear16, mulaw or alaw`
        : `The Deepgram emulator cannot produce encoding=${encoding}; request linear16, mulaw or alaw.`,
      transport === "ws" ? "INVALID_QUERY_PARAMETER" : "UNSUPPORTED_BY_EMULATOR",
    );
  }
  const telephony = encoding === "mulaw" || encoding === "alaw";
  const sampleRate = q.sample_rate ?? (telephony ? 8000 : 24000);
  if (telephony && sampleRate !== 8000 && sampleRate !== 16000) {
    return bad(`Invalid query parameter \`sample_rate\`: ${encoding} supports 8000 or 16000`);
  }
  return {
    ok: true,
    config: {
      model: q.model ?? "aura-asteria-en",
      encoding,
      sampleRate,
      container: q.container ?? "wav",
      speed: q.speed ?? 1,
    },
  };
}

// ── Flux (/v2/listen) ─────────────────────────────────────────────────────────

const FLUX_MODELS = ["flux-general-en", "flux-general-multi"] as const;
const FLUX_ENCODINGS = ["linear16", "linear32", "mulaw", "alaw", "opus", "ogg-opus"] as const;

/** Ranges of Flux's turn thresholds (Deepgram's Flux configuration page); also what `Configure` accepts. */
export const FLUX_LIMITS = {
  eagerEotThreshold: { min: 0.3, max: 0.9 },
  eotThreshold: { min: 0.5, max: 0.9, default: 0.7 },
  eotTimeoutMs: { min: 500, max: 10_000, default: 5_000 },
} as const;

const decimalString = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+(?:\.\d+)?$/, { error: "must be a number" })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: `must be at least ${min}` })
        .max(max, { error: `must be at most ${max}` }),
    );

const fluxQuery = z.looseObject({
  model: z.enum(FLUX_MODELS, { error: `must be one of ${FLUX_MODELS.join(", ")}` }).optional(),
  encoding: z.enum(FLUX_ENCODINGS, { error: `must be one of ${FLUX_ENCODINGS.join(", ")}` }).optional(),
  sample_rate: intString(1000, 192_000).optional(),
  eager_eot_threshold: decimalString(FLUX_LIMITS.eagerEotThreshold.min, FLUX_LIMITS.eagerEotThreshold.max).optional(),
  eot_threshold: decimalString(FLUX_LIMITS.eotThreshold.min, FLUX_LIMITS.eotThreshold.max).optional(),
  eot_timeout_ms: intString(FLUX_LIMITS.eotTimeoutMs.min, FLUX_LIMITS.eotTimeoutMs.max).optional(),
  keyterm: stringList.optional(),
  language_hint: z
    .array(z.string().regex(/^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$/))
    .max(20)
    .optional(),
  mip_opt_out: bool.optional(),
  profanity_filter: bool.optional(),
  numerals: bool.optional(),
  redact: z.enum(["numbers", "aggressive_numbers"]).optional(),
  tag: z.array(z.string().min(1).max(128)).max(20).optional(),
});

export interface FluxThresholds {
  /** null: no EagerEndOfTurn / TurnResumed events (the service's default). */
  eagerEotThreshold: number | null;
  eotThreshold: number;
  eotTimeoutMs: number;
}

export interface FluxConfig extends FluxThresholds {
  model: (typeof FLUX_MODELS)[number];
  /** null: no encoding given, so the audio must carry its own header (WAV). */
  encoding: RawEncoding | null;
  sampleRate: number;
  numerals: boolean;
  keyterms: string[];
  languageHints: string[];
  tags: string[];
}

const FLUX_REPEATABLE = new Set(["keyterm", "tag", "language_hint"]);

export function parseFluxQuery(
  search: URLSearchParams,
): { ok: true; config: FluxConfig } | { ok: false; error: ApiError } {
  const raw: Record<string, string | string[]> = {};
  for (const [key, value] of search) {
    if (FLUX_REPEATABLE.has(key)) {
      const prev = raw[key];
      raw[key] = Array.isArray(prev) ? [...prev, value] : [value];
    } else raw[key] = value;
  }
  const bad = (errMsg: string, errCode = "INVALID_QUERY_PARAMETER"): { ok: false; error: ApiError } => ({
    ok: false,
    error: { status: 400, errCode, errMsg },
  });
  const parsed = fluxQuery.safeParse(raw);
  if (!parsed.success) return bad(describeIssue(parsed.error.issues[0] as z.core.$ZodIssue));
  const q = parsed.data;
  if (!q.model)
    return bad("Invalid query parameter `model`: required for /v2/listen (flux-general-en or flux-general-multi)");
  if (q.encoding && q.sample_rate === undefined) return bad("sample_rate is required when encoding is specified.");
  if (q.encoding && !DECODABLE.includes(q.encoding)) {
    return bad(
      `The Deepgram emulator cannot decode encoding=${q.encoding}; use linear16, linear32, mulaw or alaw.`,
      "UNSUPPORTED_BY_EMULATOR",
    );
  }
  const eot = q.eot_threshold ?? FLUX_LIMITS.eotThreshold.default;
  if (q.eager_eot_threshold !== undefined && q.eager_eot_threshold > eot) {
    return bad("Invalid query parameter `eager_eot_threshold`: must not exceed eot_threshold");
  }
  if (q.language_hint && q.language_hint.length > 0 && q.model !== "flux-general-multi") {
    return bad("Invalid query parameter `language_hint`: only flux-general-multi takes language hints");
  }
  return {
    ok: true,
    config: {
      model: q.model,
      encoding: (q.encoding as RawEncoding | undefined) ?? null,
      sampleRate: q.sample_rate ?? 16_000,
      eagerEotThreshold: q.eager_eot_threshold ?? null,
      eotThreshold: eot,
      eotTimeoutMs: q.eot_timeout_ms ?? FLUX_LIMITS.eotTimeoutMs.default,
      numerals: q.numerals ?? false,
      keyterms: q.keyterm ?? [],
      languageHints: q.language_hint ?? [],
      tags: q.tag ?? [],
    },
  };
}
