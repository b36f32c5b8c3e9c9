import { describe, expect, it } from "vitest";
import { distanceKm, rankRegions } from "../../../workers/src/routing/nearness.ts";
import { MEDIA_REGIONS, regionsForJurisdiction } from "../../../workers/src/routing/regions.ts";

const ids = (regions: { id: string }[]) => regions.map((r) => r.id);

describe("region ranking", () => {
  it("never offers an EU tenant a region outside the EU, whoever calls", () => {
    const eu = regionsForJurisdiction("eu");
    expect(eu.every((r) => r.jurisdiction === "eu")).toBe(true);
    // A caller in California, an edge in Texas: still only EU regions.
    const ranked = rankRegions(eu, {
      number: "+14155550123",
      cf: { country: "US", latitude: "30.27", longitude: "-97.74" },
    });
    expect(ids(ranked).sort()).toEqual(["eu-central-1", "eu-west-1"]);
  });

  it("puts the region nearest the caller's number first", () => {
    const us = regionsForJurisdiction("us");
    expect(ids(rankRegions(us, { number: "+14155550123" }))[0]).toBe("us-west-2");
    expect(ids(rankRegions(us, { number: "+12125550123" }))[0]).toBe("us-east-1");
    const eu = regionsForJurisdiction("eu");
    expect(ids(rankRegions(eu, { number: "+35312345678" }))[0]).toBe("eu-west-1");
    expect(ids(rankRegions(eu, { number: "+4930123456" }))[0]).toBe("eu-central-1");
  });

  it("falls back to the edge's location when the caller's number says nothing", () => {
    const us = regionsForJurisdiction("us");
    const west = { latitude: "47.6", longitude: "-122.3", country: "US" };
    expect(ids(rankRegions(us, { number: "anonymous", cf: west }))[0]).toBe("us-west-2");
    expect(ids(rankRegions(us, { cf: { country: "IE" } }))[0]).toBe("us-east-1");
  });

  it("keeps the configured order when nothing is known", () => {
    const us = regionsForJurisdiction("us");
    expect(ids(rankRegions(us, {}))).toEqual(ids(us));
  });

  it("measures distances plausibly", () => {
    const [east, west] = MEDIA_REGIONS;
    expect(distanceKm(east, west)).toBeGreaterThan(3000);
    expect(distanceKm(east, west)).toBeLessThan(4000);
    expect(distanceKm(east, east)).toBe(0);
  });
});
