// Every identity the platform hands out, from one entry: account and user IDs a caller may read out over a phone
// line (public-ids.ts, parsed as spoken by spoken-ids.ts, on the alphabet and check character of id-alphabet.ts)
// and opaque resource IDs (resource-ids.ts).
export { checkCharacter, ID_ALPHABET } from "./id-alphabet.ts";
export {
  type AccountId,
  AccountIdSchema,
  accountIdFromData,
  isAccountId,
  isUserId,
  newAccountId,
  newUserId,
  type UserId,
  UserIdSchema,
  userIdFromData,
} from "./public-ids.ts";
export {
  isResourceId,
  newResourceId,
  RESOURCE_KINDS,
  type ResourceId,
  type ResourceKind,
  resourceIdSchema,
} from "./resource-ids.ts";
export {
  type IdParseFailureReason,
  type IdParseResult,
  parseAccountId,
  parseUserId,
  spellIdForSpeech,
} from "./spoken-ids.ts";
