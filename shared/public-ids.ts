// Account and user IDs: AYB-XXXX-XXXX-XXXX and USR-XXXXXXXXXX in the ID alphabet, the last symbol a check
// character; their zod schemas for the API, and making them.
import { z } from "zod";
import { checkCharacter, hasValidCheck, ID_ALPHABET, randomSymbols } from "./id-alphabet.ts";

export interface PublicIdSpec {
  readonly prefix: string;
  /** Group sizes after the prefix; their sum is the body length (data symbols + check). */
  readonly groups: readonly number[];
  readonly noun: string;
  /** The noun with its article, for messages read to a caller. */
  readonly aNoun: string;
  readonly example: string;
}

export const ACCOUNT = withExample(
  { prefix: "AYB", groups: [4, 4, 4], noun: "account ID", aNoun: "an account ID" },
  "K3M29PX47TN",
);
export const USER = withExample({ prefix: "USR", groups: [10], noun: "user ID", aNoun: "a user ID" }, "7TN8Q2W5H");

function withExample(spec: Omit<PublicIdSpec, "example">, data: string): PublicIdSpec {
  return { ...spec, example: canonical(spec, data + checkCharacter(data)) };
}

export const bodyLength = (spec: PublicIdSpec): number => spec.groups.reduce((a, b) => a + b, 0);

export function canonical(spec: Pick<PublicIdSpec, "prefix" | "groups">, body: string): string {
  let out = spec.prefix;
  let at = 0;
  for (const size of spec.groups) {
    out += `-${body.slice(at, at + size)}`;
    at += size;
  }
  return out;
}

function canonicalPattern(spec: PublicIdSpec): RegExp {
  const group = (n: number) => `[${ID_ALPHABET}]{${n}}`;
  return new RegExp(`^${spec.prefix}${spec.groups.map((n) => `-${group(n)}`).join("")}$`);
}

const ACCOUNT_ID_PATTERN = canonicalPattern(ACCOUNT);
const USER_ID_PATTERN = canonicalPattern(USER);

function isCanonical(spec: PublicIdSpec, pattern: RegExp, value: unknown): boolean {
  return (
    typeof value === "string" &&
    pattern.test(value) &&
    hasValidCheck(value.slice(spec.prefix.length).replaceAll("-", ""))
  );
}

/** Canonical account ID, as stored and returned by the API: `AYB-XXXX-XXXX-XXXX`. */
export const AccountIdSchema = z
  .string()
  .regex(ACCOUNT_ID_PATTERN, { message: `Expected an account ID like ${ACCOUNT.example}` })
  .refine((value) => isCanonical(ACCOUNT, ACCOUNT_ID_PATTERN, value), {
    message: "Account ID check character does not match",
  })
  .brand<"AccountId">()
  .meta({ description: "Account ID", pattern: ACCOUNT_ID_PATTERN.source, example: ACCOUNT.example });
export type AccountId = z.infer<typeof AccountIdSchema>;

/** Canonical user ID: `USR-XXXXXXXXXX`. */
export const UserIdSchema = z
  .string()
  .regex(USER_ID_PATTERN, { message: `Expected a user ID like ${USER.example}` })
  .refine((value) => isCanonical(USER, USER_ID_PATTERN, value), { message: "User ID check character does not match" })
  .brand<"UserId">()
  .meta({ description: "User ID", pattern: USER_ID_PATTERN.source, example: USER.example });
export type UserId = z.infer<typeof UserIdSchema>;

export function isAccountId(value: unknown): value is AccountId {
  return isCanonical(ACCOUNT, ACCOUNT_ID_PATTERN, value);
}

export function isUserId(value: unknown): value is UserId {
  return isCanonical(USER, USER_ID_PATTERN, value);
}

function newPublicId(spec: PublicIdSpec): string {
  const data = randomSymbols(bodyLength(spec) - 1, ID_ALPHABET);
  return canonical(spec, data + checkCharacter(data));
}

export function newAccountId(): AccountId {
  return newPublicId(ACCOUNT) as AccountId;
}

export function newUserId(): UserId {
  return newPublicId(USER) as UserId;
}

/** Builds the canonical account ID from its 11 data symbols (upper case); the check character is added. */
export function accountIdFromData(data: string): AccountId {
  return publicIdFromData(ACCOUNT, data) as AccountId;
}

/** Builds the canonical user ID from its 9 data symbols (upper case); the check character is added. */
export function userIdFromData(data: string): UserId {
  return publicIdFromData(USER, data) as UserId;
}

function publicIdFromData(spec: PublicIdSpec, data: string): string {
  if (data.length !== bodyLength(spec) - 1) {
    throw new RangeError(`${capitalized(spec.aNoun)} has ${bodyLength(spec) - 1} data symbols, got ${data.length}`);
  }
  return canonical(spec, data + checkCharacter(data));
}

export function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
