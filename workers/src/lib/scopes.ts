// API key scopes. A key holds a list of these; `*` holds them all.
export const SCOPES = [
  "agents:read",
  "agents:write",
  "numbers:read",
  "numbers:write",
  "calls:read",
  "calls:write",
  "consent:read",
  "consent:write",
  "verify:write",
  "keys:admin",
  "webhooks:read",
  "webhooks:write",
  "secrets:read",
  "secrets:write",
] as const;
export type Scope = (typeof SCOPES)[number];
export const ALL_SCOPES = "*";
export type GrantedScope = Scope | typeof ALL_SCOPES;

export function hasScope(granted: readonly string[], needed: Scope): boolean {
  return granted.includes(ALL_SCOPES) || granted.includes(needed);
}

/** A key may only hand out what it holds itself, so keys:admin cannot mint a more powerful key than its own. */
export function canGrant(granted: readonly string[], requested: readonly GrantedScope[]): boolean {
  if (granted.includes(ALL_SCOPES)) return true;
  return requested.every((s) => s !== ALL_SCOPES && granted.includes(s));
}
