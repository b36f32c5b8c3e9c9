// Ranks the regions a call may use by distance to the caller. Residency is applied before this (the input is
// already the allowed set), so ranking can only reorder, never add a region.
import { countryPoint, locateNumber } from "../telephony/e164.ts";
import type { MediaRegionInfo } from "./regions.ts";

export interface Point {
  lat: number;
  lon: number;
}

/** Great-circle distance in kilometres. */
export function distanceKm(a: Point, b: Point): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** The subset of `request.cf` routing reads (all strings, as Cloudflare sends them). */
export interface EdgeLocation {
  country?: string | undefined;
  latitude?: string | undefined;
  longitude?: string | undefined;
}

function edgePoint(cf: EdgeLocation | undefined): Point | undefined {
  const lat = Number(cf?.latitude);
  const lon = Number(cf?.longitude);
  if (cf?.latitude && cf.longitude && Number.isFinite(lat) && Number.isFinite(lon)) return { lat, lon };
  return cf?.country ? countryPoint(cf.country) : undefined;
}

/**
 * Nearest first. The caller's number is the main signal (audio flows between the caller's carrier and the
 * media node); the edge's own location (`request.cf`, where Twilio's webhook came from) breaks ties and stands
 * in when the caller's number says nothing (withheld or unknown country). Stable for equal distances.
 */
export function rankRegions(
  allowed: readonly MediaRegionInfo[],
  caller: { number?: string | undefined; cf?: EdgeLocation | undefined },
): MediaRegionInfo[] {
  const located = caller.number ? locateNumber(caller.number) : undefined;
  const callerPoint: Point | undefined = located ? { lat: located.lat, lon: located.lon } : undefined;
  const edge = edgePoint(caller.cf);
  const score = (region: MediaRegionInfo): [number, number] => [
    callerPoint ? distanceKm(callerPoint, region) : edge ? distanceKm(edge, region) : 0,
    edge ? distanceKm(edge, region) : 0,
  ];
  return allowed
    .map((region, index) => ({ region, index, score: score(region) }))
    .sort((a, b) => a.score[0] - b.score[0] || a.score[1] - b.score[1] || a.index - b.index)
    .map((entry) => entry.region);
}
