import { describe, expect, it } from "vitest";
import { checkCallingHours, localMinuteOfDay } from "../../../workers/src/telephony/calling-hours.ts";

const at = (iso: string) => Date.parse(iso);

describe("calling hours", () => {
  it("judges the window on the callee's local clock, not UTC", () => {
    // 15:00 UTC in January is 07:00 in Los Angeles and 10:00 in New York.
    expect(checkCallingHours(at("2026-01-15T15:00:00Z"), ["America/Los_Angeles"])).toEqual({
      allowed: false,
      timeZone: "America/Los_Angeles",
      localTime: "07:00",
    });
    expect(checkCallingHours(at("2026-01-15T15:00:00Z"), ["America/New_York"])).toEqual({ allowed: true });
  });

  it("starts at 8:00 inclusive and ends at 21:00 exclusive by default", () => {
    expect(checkCallingHours(at("2026-01-15T07:00:00Z"), ["Europe/Berlin"]).allowed).toBe(true); // 08:00 CET
    expect(checkCallingHours(at("2026-01-15T06:59:00Z"), ["Europe/Berlin"]).allowed).toBe(false);
    expect(checkCallingHours(at("2026-01-15T19:59:00Z"), ["Europe/Berlin"]).allowed).toBe(true); // 20:59
    expect(checkCallingHours(at("2026-01-15T20:00:00Z"), ["Europe/Berlin"]).allowed).toBe(false); // 21:00
  });

  it("follows daylight saving time", () => {
    // 07:30 UTC is 08:30 CET in winter but 09:30 CEST in summer; 06:30 UTC is before 8:00 in winter only.
    expect(localMinuteOfDay(at("2026-01-15T07:30:00Z"), "Europe/Berlin")).toBe(8 * 60 + 30);
    expect(localMinuteOfDay(at("2026-07-15T07:30:00Z"), "Europe/Berlin")).toBe(9 * 60 + 30);
    expect(checkCallingHours(at("2026-01-15T06:30:00Z"), ["Europe/Berlin"]).allowed).toBe(false);
    expect(checkCallingHours(at("2026-07-15T06:30:00Z"), ["Europe/Berlin"]).allowed).toBe(true);
  });

  it("requires the window in every candidate zone when the number cannot tell which", () => {
    // 13:30 UTC: 08:30 in New York and Chicago's 07:30 — one candidate is still too early.
    const verdict = checkCallingHours(at("2026-01-15T13:30:00Z"), ["America/New_York", "America/Chicago"]);
    expect(verdict).toMatchObject({ allowed: false, timeZone: "America/Chicago" });
  });

  it("uses a tenant's own window", () => {
    const window = { startMinute: 9 * 60, endMinute: 17 * 60 };
    expect(checkCallingHours(at("2026-01-15T08:30:00Z"), ["Europe/London"], window).allowed).toBe(false);
    expect(checkCallingHours(at("2026-01-15T09:00:00Z"), ["Europe/London"], window).allowed).toBe(true);
  });

  it("refuses when no zone is known", () => {
    expect(checkCallingHours(Date.now(), []).allowed).toBe(false);
  });
});
