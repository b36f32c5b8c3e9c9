// Where a phone number lives: its country, its most likely time zones (best first) and an approximate
// location for routing. Pure lookups on the digits; no network, no big metadata bundle in the Worker.
//
// North American numbers (+1) share one calling code across 25 countries and six US time zones, so they are
// resolved by area code; everywhere else the calling code decides the country. Where the area code or country
// spans several zones and the digits cannot tell them apart, every candidate zone is returned: calling-hours
// checks then hold in all of them, which is the conservative reading the rules require.
import { z } from "zod";
import { COUNTRIES, type CountryInfo, NANP_AREA_CODES, NANP_ZONE_POINTS } from "./country-data.ts";

/** `+` then 7 to 15 digits, the first not 0 (ITU-T E.164). */
export const e164Schema = z
  .string()
  .regex(/^\+[1-9]\d{6,14}$/, { message: "Expected an E.164 phone number such as +14155550123" });

export interface NumberLocation {
  /** ISO 3166-1 alpha-2. */
  country: string;
  /** IANA zones, most likely first. Never empty. */
  timeZones: readonly string[];
  /** Approximate point for nearness ranking (degrees). */
  lat: number;
  lon: number;
}

const BY_CALLING_CODE = new Map<string, CountryInfo>();
for (const country of COUNTRIES) {
  if (!BY_CALLING_CODE.has(country.callingCode)) BY_CALLING_CODE.set(country.callingCode, country);
}
const BY_ISO = new Map(COUNTRIES.map((country) => [country.iso, country]));

/** Returns undefined for strings that are not E.164 or whose calling code is not in the table. */
export function locateNumber(e164: string): NumberLocation | undefined {
  if (!e164Schema.safeParse(e164).success) return undefined;
  const digits = e164.slice(1);
  if (digits.startsWith("1")) return locateNanp(digits.slice(1, 4));
  // Calling codes are prefix-free: at most one of the 1-, 2- and 3-digit prefixes is assigned.
  for (const length of [1, 2, 3]) {
    const country = BY_CALLING_CODE.get(digits.slice(0, length));
    if (country) return { country: country.iso, timeZones: country.timeZones, lat: country.lat, lon: country.lon };
  }
  return undefined;
}

function locateNanp(areaCode: string): NumberLocation {
  const entry = NANP_AREA_CODES.get(areaCode);
  const country = BY_ISO.get(entry?.country ?? "US");
  // An unknown area code is treated as US-anywhere: all US zones, centred on the continent.
  if (!entry || !country) {
    const us = BY_ISO.get("US");
    return { country: "US", timeZones: us?.timeZones ?? ["America/New_York"], lat: 39.8, lon: -98.6 };
  }
  const first = entry.timeZones[0];
  const point = first ? NANP_ZONE_POINTS[first] : undefined;
  return {
    country: entry.country,
    timeZones: entry.timeZones,
    lat: point?.[0] ?? country.lat,
    lon: point?.[1] ?? country.lon,
  };
}

/** Approximate centre of a country by ISO code (for `request.cf.country` when no coordinates are given). */
export function countryPoint(iso: string): { lat: number; lon: number } | undefined {
  const country = BY_ISO.get(iso.toUpperCase());
  return country ? { lat: country.lat, lon: country.lon } : undefined;
}
