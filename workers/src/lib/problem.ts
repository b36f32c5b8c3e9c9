// RFC 9457 problem details. Every error the API returns is one of these, as application/problem+json.
// Handlers and middleware throw a ProblemError; the app's onError turns it (and anything else) into the response.
import { z } from "@hono/zod-openapi";
import type { ZodError } from "zod";

export const PROBLEM_BASE = "https://aybiza.dev/problems/";

/** Every problem type the API can return: slug → [status, title]. /v1/docs lists them. */
export const PROBLEM_TYPES = {
  "validation-error": [400, "The request is not valid"],
  "malformed-json": [400, "The request body is not valid JSON"],
  unauthorized: [401, "Authentication required"],
  "insufficient-scope": [403, "The API key lacks a required scope"],
  "csrf-failed": [403, "The console form's CSRF check failed"],
  "not-found": [404, "Not found"],
  "method-not-allowed": [405, "Method not allowed"],
  conflict: [409, "Conflict with the current state"],
  "idempotency-key-in-use": [409, "A request with this Idempotency-Key is still being processed"],
  "payload-too-large": [413, "The request body is too large"],
  "unsupported-media-type": [415, "Unsupported media type"],
  "idempotency-key-reused": [422, "The Idempotency-Key was already used for a different request"],
  "consent-missing": [403, "No valid consent of this type is on record for the number"],
  "consent-revoked": [403, "The person revoked consent for this type of call"],
  "consent-expired": [403, "The consent for this type of call has expired"],
  "outside-calling-hours": [403, "It is outside permitted calling hours in the callee's time zone"],
  "over-limit": [403, "The account is at its plan's call limit"],
  unprocessable: [422, "The request cannot be carried out as given"],
  "rate-limited": [429, "Too many requests"],
  "carrier-error": [502, "The telephony carrier refused or could not be reached"],
  "internal-error": [500, "Internal server error"],
  "service-unavailable": [503, "Service temporarily unavailable"],
} as const satisfies Record<string, readonly [number, string]>;
export type ProblemSlug = keyof typeof PROBLEM_TYPES;

export type FieldError = {
  /** Where the bad value was: the JSON body, the query string, a path parameter or a header. */
  location: "body" | "query" | "path" | "header";
  /** JSON Pointer (RFC 6901) to the value inside that location, e.g. `/tools/0/name` or `/limit`. */
  pointer: string;
  detail: string;
};

export type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  requestId?: string | undefined;
  errors?: FieldError[] | undefined;
};

export class ProblemError extends Error {
  readonly slug: ProblemSlug;
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;

  constructor(
    slug: ProblemSlug,
    detail: string,
    { errors, headers = {} }: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = "ProblemError";
    this.slug = slug;
    this.status = PROBLEM_TYPES[slug][0];
    this.errors = errors;
    this.headers = headers;
  }
}

/** The 404 every tenant-scoped lookup returns, whether the ID does not exist or belongs to another tenant. */
export function notFound(what: string, id: string | number): ProblemError {
  return new ProblemError("not-found", `No ${what} ${id} in this account.`);
}

export function problemBody(
  err: ProblemError,
  { instance, requestId }: { instance: string; requestId?: string | undefined },
): Problem {
  return {
    type: PROBLEM_BASE + err.slug,
    title: PROBLEM_TYPES[err.slug][1],
    status: err.status,
    detail: err.message,
    instance,
    ...(requestId ? { requestId } : {}),
    ...(err.errors ? { errors: err.errors } : {}),
  };
}

export function problemResponse(
  err: ProblemError,
  context: { instance: string; requestId?: string | undefined },
): Response {
  return new Response(JSON.stringify(problemBody(err, context)), {
    status: err.status,
    headers: { "content-type": "application/problem+json", ...err.headers },
  });
}

/** Turns zod issues into field errors. Unknown keys get one entry each, so a client can point at every typo. */
export function fieldErrors(error: ZodError, location: FieldError["location"]): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    const base = pointerOf(issue.path);
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        out.push({ location, pointer: `${base}/${escapePointer(key)}`, detail: "Unknown field." });
      }
    } else {
      out.push({ location, pointer: base, detail: issue.message });
    }
  }
  return out;
}

function pointerOf(path: readonly PropertyKey[]): string {
  return path.map((p) => `/${escapePointer(String(p))}`).join("");
}

function escapePointer(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

const FieldErrorSchema = z
  .object({
    location: z.enum(["body", "query", "path", "header"]),
    pointer: z.string().openapi({ example: "/name" }),
    detail: z.string(),
  })
  .openapi("FieldError");

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: `${PROBLEM_BASE}validation-error` }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().openapi({ example: "/v1/agents" }),
    requestId: z.string().optional(),
    errors: z.array(FieldErrorSchema).optional(),
  })
  .openapi("Problem");

const problemContent = { "application/problem+json": { schema: ProblemSchema } };

/** OpenAPI response entries for the problems a route can return, e.g. `...problems(400, 401, 403, 404)`. */
export function problems<const S extends readonly number[]>(
  ...statuses: S
): { [K in S[number]]: { description: string; content: typeof problemContent } } {
  const descriptions: Record<number, string> = {
    400: "Invalid request (validation-error, malformed-json)",
    401: "Missing, unknown or revoked API key",
    403: "The API key lacks the required scope",
    404: "No such resource in this account",
    409: "Conflict with the current state",
    413: "Body larger than 256 KB",
    415: "Body is not application/json",
    422: "Idempotency-Key reused with a different request",
    429: "Over the plan's request rate (rate-limited); see Retry-After",
    502: "The telephony carrier refused or could not be reached (carrier-error)",
  };
  return Object.fromEntries(
    statuses.map((s) => [s, { description: descriptions[s] ?? "Error", content: problemContent }]),
  ) as { [K in S[number]]: { description: string; content: typeof problemContent } };
}
