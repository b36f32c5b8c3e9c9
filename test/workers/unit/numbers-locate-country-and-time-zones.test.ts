import { describe, expect, it } from "vitest";
import { locateNumber } from "../../../workers/src/telephony/e164.ts";

describe("locating a phone number", () => {
  it("resolves North American numbers by area code", () => {
    expect(locateNumber("+14155550123")).toMatchObject({ country: "US", timeZones: ["America/Los_Angeles"] });
    expect(locateNumber("+12125550123")).toMatchObject({ country: "US", timeZones: ["America/New_York"] });
    expect(locateNumber("+16045550123")).toMatchObject({ country: "CA", timeZones: ["America/Vancouver"] });
    expect(locateNumber("+18765550123")).toMatchObject({ country: "JM" });
  });

  it("lists every zone an area code straddles, most likely first", () => {
    expect(locateNumber("+18505550123")?.timeZones).toEqual(["America/Chicago", "America/New_York"]);
  });

  it("treats an unknown area code as anywhere in the US (all US zones)", () => {
    const location = locateNumber("+19995550123");
    expect(location?.country).toBe("US");
    expect(location?.timeZones).toContain("Pacific/Honolulu");
    expect(location?.timeZones).toContain("America/New_York");
  });

  it("resolves other countries by calling code, whatever its length", () => {
    expect(locateNumber("+4930123456")).toMatchObject({ country: "DE", timeZones: ["Europe/Berlin"] });
    expect(locateNumber("+35312345678")).toMatchObject({ country: "IE" });
    expect(locateNumber("+447700900123")).toMatchObject({ country: "GB" });
    expect(locateNumber("+61212345678")?.timeZones[0]).toBe("Australia/Sydney");
  });

  it("returns nothing for strings that are not E.164 or codes it does not know", () => {
    expect(locateNumber("4155550123")).toBeUndefined();
    expect(locateNumber("anonymous")).toBeUndefined();
    expect(locateNumber("+0123456789")).toBeUndefined();
    expect(locateNumber("+99912345678")).toBeUndefined();
  });

  it("only names time zones the runtime knows", () => {
    const samples = ["+14155550123", "+18505550123", "+19995550123", "+380441234567", "+5511912345678", "+2081234567"];
    for (const number of samples) {
      for (const timeZone of locateNumber(number)?.timeZones ?? []) {
        expect(() => new Intl.DateTimeFormat("en-US", { timeZone })).not.toThrow();
      }
    }
  });
});
