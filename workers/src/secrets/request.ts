// The vault of an API request: the request's database (its transaction inside a write) and the configured keyring.
// A deployment without a KEK answers 503 for anything that needs a secret, rather than storing one unprotected.
import type { Context } from "hono";
import type { AppEnv } from "../env.ts";
import { ProblemError } from "../lib/problem.ts";
import { keyringFrom } from "./config.ts";
import { KeyringError } from "./kek.ts";
import type { Vault } from "./vault.ts";

export function requestVault(c: Context<AppEnv>): Vault {
  try {
    return { db: c.var.db, ring: keyringFrom(c.env) };
  } catch (error) {
    if (error instanceof KeyringError) {
      console.warn("secrets: keyring not configured", { error: error.message });
      throw new ProblemError("service-unavailable", "Secrets are not configured on this deployment.");
    }
    throw error;
  }
}
