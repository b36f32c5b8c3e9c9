// The media regions calls can run in, and the jurisdiction each belongs to. The one list: routing, residency
// checks, heartbeat validation and the MediaRegion directory names all read it from here.
import { z } from "zod";
import { JURISDICTIONS, type Jurisdiction } from "../db/schema.ts";

export { JURISDICTIONS, type Jurisdiction };
export const jurisdictionSchema = z.enum(JURISDICTIONS);

export interface MediaRegionInfo {
  /** AWS region name: media nodes sit next to Bedrock, so regions follow AWS's names. */
  id: string;
  jurisdiction: Jurisdiction;
  /** Approximate location (degrees) for nearness ranking. */
  lat: number;
  lon: number;
  /** Where the region's directory object should live (only the first `get` that creates it uses this). */
  locationHint: DurableObjectLocationHint;
}

export const MEDIA_REGIONS = [
  { id: "us-east-1", jurisdiction: "us", lat: 38.9, lon: -77.4, locationHint: "enam" },
  { id: "us-west-2", jurisdiction: "us", lat: 45.8, lon: -119.7, locationHint: "wnam" },
  { id: "eu-central-1", jurisdiction: "eu", lat: 50.1, lon: 8.7, locationHint: "weur" },
  { id: "eu-west-1", jurisdiction: "eu", lat: 53.3, lon: -6.3, locationHint: "weur" },
] as const satisfies readonly MediaRegionInfo[];

export type MediaRegionId = (typeof MEDIA_REGIONS)[number]["id"];
export const MEDIA_REGION_IDS = MEDIA_REGIONS.map((r) => r.id) as [MediaRegionId, ...MediaRegionId[]];
export const mediaRegionIdSchema = z.enum(MEDIA_REGION_IDS);

export function regionInfo(id: string): MediaRegionInfo | undefined {
  return MEDIA_REGIONS.find((region) => region.id === id);
}

/** The regions a tenant of `jurisdiction` may use. Never empty for a valid jurisdiction; never crosses it. */
export function regionsForJurisdiction(jurisdiction: Jurisdiction): MediaRegionInfo[] {
  return MEDIA_REGIONS.filter((region) => region.jurisdiction === jurisdiction);
}
