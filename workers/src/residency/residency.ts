// A tenant's home jurisdiction decides two places its data may live: the Postgres database and the Durable
// Objects that hold its calls. Both choices are made here and nowhere else, so an audit of residency is a
// read of this file.
import type { Jurisdiction } from "../db/schema.ts";

export interface ResidencyBindings {
  DATABASE_URL: string;
  DATABASE_URL_US?: string | undefined;
  DATABASE_URL_EU?: string | undefined;
  DO_JURISDICTIONS?: string | undefined;
}

/** The database a tenant of `jurisdiction` keeps its data in. Locally every jurisdiction shares DATABASE_URL. */
export function databaseUrlFor(env: ResidencyBindings, jurisdiction: Jurisdiction): string {
  const specific = jurisdiction === "eu" ? env.DATABASE_URL_EU : env.DATABASE_URL_US;
  const url = specific?.trim() || env.DATABASE_URL?.trim();
  if (!url)
    throw new Error(
      `No database configured for jurisdiction "${jurisdiction}" (DATABASE_URL_${jurisdiction.toUpperCase()} or DATABASE_URL)`,
    );
  return url;
}

/**
 * Every distinct database, with the jurisdictions it serves. Lookups that start from something global (a
 * dialled number, an account ID read out on a call) ask each of them, because the row lives in exactly one.
 */
export function allDatabases(env: ResidencyBindings): { url: string; jurisdictions: Jurisdiction[] }[] {
  const byUrl = new Map<string, Jurisdiction[]>();
  for (const jurisdiction of ["us", "eu"] as const) {
    const url = databaseUrlFor(env, jurisdiction);
    byUrl.set(url, [...(byUrl.get(url) ?? []), jurisdiction]);
  }
  return [...byUrl].map(([url, jurisdictions]) => ({ url, jurisdictions }));
}

/**
 * The Durable Object jurisdiction for a tenant's objects, or undefined for "no restriction". Only `eu` is
 * restricted: workers-types 4 has no `us` jurisdiction, and US tenants' objects may run anywhere in the US
 * or elsewhere without leaving their legal home. Returns undefined unless DO_JURISDICTIONS is "on", because
 * local workerd throws "Jurisdiction restrictions are not implemented" the moment one is used.
 */
export function durableObjectJurisdiction(
  env: ResidencyBindings,
  jurisdiction: Jurisdiction,
): DurableObjectJurisdiction | undefined {
  if (env.DO_JURISDICTIONS !== "on") return undefined;
  return jurisdiction === "eu" ? "eu" : undefined;
}

/** The namespace to address a tenant's objects through (restricted where the runtime supports it). */
export function namespaceFor<T extends Rpc.DurableObjectBranded | undefined>(
  namespace: DurableObjectNamespace<T>,
  env: ResidencyBindings,
  jurisdiction: Jurisdiction,
): DurableObjectNamespace<T> {
  const restricted = durableObjectJurisdiction(env, jurisdiction);
  return restricted ? namespace.jurisdiction(restricted) : namespace;
}
