// The account's outbound calling window as the API shows it (HH:MM strings) and as it is stored (minutes).
import { z } from "@hono/zod-openapi";
import type { accounts } from "../../db/schema.ts";
import { type CallingWindow, DEFAULT_CALLING_WINDOW } from "../../telephony/calling-hours.ts";

const HHMM = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, "Expected a local time like 08:00")
  .openapi({ example: "08:00" });

export const CallingHoursSchema = z
  .object({ start: HHMM, end: HHMM.openapi({ example: "21:00" }) })
  .refine((h) => minutes(h.start) < minutes(h.end), { message: "start must be before end", path: ["end"] })
  .openapi("CallingHours");
export type CallingHours = z.infer<typeof CallingHoursSchema>;

function minutes(hhmm: string): number {
  const [h = "0", m = "0"] = hhmm.split(":");
  return Number(h) * 60 + Number(m);
}

const hhmm = (minute: number) =>
  `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;

export function callingWindowOf(hours: CallingHours): CallingWindow {
  return { startMinute: minutes(hours.start), endMinute: minutes(hours.end) };
}

/** The stored window, or the platform default when the account has none. */
export function accountCallingWindow(
  row: Pick<typeof accounts.$inferSelect, "callingWindowStartMinute" | "callingWindowEndMinute">,
): CallingWindow {
  return row.callingWindowStartMinute !== null && row.callingWindowEndMinute !== null
    ? { startMinute: row.callingWindowStartMinute, endMinute: row.callingWindowEndMinute }
    : DEFAULT_CALLING_WINDOW;
}

export function callingHoursOut(
  row: Pick<typeof accounts.$inferSelect, "callingWindowStartMinute" | "callingWindowEndMinute">,
): CallingHours {
  const window = accountCallingWindow(row);
  return { start: hhmm(window.startMinute), end: hhmm(window.endMinute) };
}
