// Telling "the database could not be reached in time" apart from "the database answered with an error". The first
// is the platform's fault and passes (503 with Retry-After, readiness red, calls served from caches); the second is
// a real answer (a constraint, a bad statement) and is handled where it happens.
//
// The Neon driver (pg underneath) reports an unreachable or hung database as plain Errors: a refused WebSocket, a
// connection timeout, a query read timeout, a terminated connection. None of them carries a SQLSTATE; a server
// that answers always does, except for the connection-exception class and the shutdown codes below.

/** SQLSTATEs that mean "not reachable now" even though a server answered. */
const UNAVAILABLE_CODES = new Set(["57P01", "57P02", "57P03", "53300"]);
const UNAVAILABLE_MESSAGE =
  /timeout|timed out|terminated|connect|ECONNREFUSED|ECONNRESET|EPIPE|websocket|socket|network|closed unexpectedly/i;

/** Thrown by `withDeadline` and by anything that gives up on the database for lack of time. */
export class DatabaseUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatabaseUnavailableError";
  }
}

export function isDatabaseUnavailable(err: unknown): boolean {
  let sawMessage = false;
  for (let e = err, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    if (e instanceof DatabaseUnavailableError) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) {
      return code.startsWith("08") || UNAVAILABLE_CODES.has(code);
    }
    const message = (e as { message?: unknown }).message;
    if (typeof message === "string" && UNAVAILABLE_MESSAGE.test(message)) sawMessage = true;
    e = (e as { cause?: unknown }).cause;
  }
  return sawMessage;
}

/**
 * Settles with `promise`, or rejects with DatabaseUnavailableError after `ms`. For work that spans several queries
 * (each already has its own deadline) and must still answer in time, e.g. a webhook's number lookup.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseUnavailableError(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
