import { describe, expect, it } from "vitest";
import { allDatabases, databaseUrlFor, durableObjectJurisdiction } from "../../../workers/src/residency/residency.ts";

describe("residency", () => {
  it("sends each jurisdiction to its own database when one is configured", () => {
    const env = {
      DATABASE_URL: "postgres://local",
      DATABASE_URL_EU: "postgres://eu",
      DATABASE_URL_US: "postgres://us",
    };
    expect(databaseUrlFor(env, "eu")).toBe("postgres://eu");
    expect(databaseUrlFor(env, "us")).toBe("postgres://us");
  });

  it("falls back to DATABASE_URL locally", () => {
    const env = { DATABASE_URL: "postgres://local", DATABASE_URL_EU: "" };
    expect(databaseUrlFor(env, "eu")).toBe("postgres://local");
    expect(allDatabases(env)).toEqual([{ url: "postgres://local", jurisdictions: ["us", "eu"] }]);
  });

  it("refuses to guess when nothing is configured", () => {
    expect(() => databaseUrlFor({ DATABASE_URL: "" }, "eu")).toThrow(/DATABASE_URL_EU/);
  });

  it("restricts EU objects to the EU jurisdiction only where the runtime supports it", () => {
    expect(durableObjectJurisdiction({ DATABASE_URL: "x", DO_JURISDICTIONS: "on" }, "eu")).toBe("eu");
    expect(durableObjectJurisdiction({ DATABASE_URL: "x", DO_JURISDICTIONS: "on" }, "us")).toBeUndefined();
    // Local workerd throws on jurisdictions, so without the switch nothing is restricted.
    expect(durableObjectJurisdiction({ DATABASE_URL: "x" }, "eu")).toBeUndefined();
  });
});
