// Small schemas several features share.
import { z } from "@hono/zod-openapi";

/** E.164: `+`, country code, subscriber number; 15 digits at most. */
export const E164 = z
  .string()
  .regex(/^\+[1-9]\d{1,14}$/, "Expected an E.164 phone number like +14155550123")
  .openapi({ example: "+14155550123" });

/** Timestamps leave the API as ISO 8601 UTC strings with milliseconds. */
export const Timestamp = z.string().openapi({ format: "date-time", example: "2026-04-01T12:00:00.000Z" });

export const iso = (d: Date): string => d.toISOString();
export const isoOrNull = (d: Date | null): string | null => (d ? d.toISOString() : null);
