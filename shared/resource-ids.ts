// Opaque resource IDs (agt_…, call_…): a kind prefix and 20 lower-case symbols of the ID alphabet.
import { z } from "zod";
import { ID_ALPHABET, randomSymbols } from "./id-alphabet.ts";

const RESOURCE_ALPHABET = ID_ALPHABET.toLowerCase();

export const RESOURCE_KINDS = [
  "agt",
  "agv",
  "num",
  "call",
  "turn",
  "key",
  "cns",
  "aud",
  "ver",
  "req",
  "ses",
  "pbk",
  // Envelope encryption and event webhooks (issue 13).
  "dk",
  "sec",
  "we",
  "evt",
  "dlv",
  "att",
] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];
/** `agt_` + 20 lower-case symbols: about 97 random bits, safe to read aloud if it ever has to be. */
export type ResourceId<K extends ResourceKind = ResourceKind> = `${K}_${string}`;

const RESOURCE_BODY_LENGTH = 20;
const RESOURCE_BODY_PATTERN = `[${RESOURCE_ALPHABET}]{${RESOURCE_BODY_LENGTH}}`;

export function newResourceId<K extends ResourceKind>(kind: K): ResourceId<K> {
  return `${kind}_${randomSymbols(RESOURCE_BODY_LENGTH, RESOURCE_ALPHABET)}`;
}

export function isResourceId<K extends ResourceKind>(kind: K, value: unknown): value is ResourceId<K> {
  return typeof value === "string" && new RegExp(`^${kind}_${RESOURCE_BODY_PATTERN}$`).test(value);
}

export function resourceIdSchema<K extends ResourceKind>(kind: K) {
  const pattern = `^${kind}_${RESOURCE_BODY_PATTERN}$`;
  return z
    .templateLiteral([z.literal(`${kind}_`), z.string().regex(new RegExp(`^${RESOURCE_BODY_PATTERN}$`))])
    .meta({ pattern, example: `${kind}_k3m29px47tn8q2w5hjzr` });
}
