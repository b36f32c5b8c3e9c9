// Permitted calling hours, judged on the callee's wall clock. Uses Intl (full ICU in workerd and Node), so
// daylight-saving changes and zone rules stay the runtime's job, not a table of offsets here.
import { z } from "zod";

/** Minutes after local midnight; the window is [start, end). */
export const callingWindowSchema = z
  .object({
    startMinute: z.number().int().min(0).max(1439),
    endMinute: z.number().int().min(1).max(1440),
  })
  .refine((w) => w.startMinute < w.endMinute, { message: "calling window must start before it ends" });
export type CallingWindow = z.infer<typeof callingWindowSchema>;

/** 8:00 to 21:00 local, the common reading of the US TCPA and most EU national rules. */
export const DEFAULT_CALLING_WINDOW: CallingWindow = { startMinute: 8 * 60, endMinute: 21 * 60 };

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    // Throws RangeError for a zone the runtime doesn't know; callers get that rather than a silent UTC guess.
    formatter = new Intl.DateTimeFormat("en-US", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Minutes after local midnight in `timeZone` at instant `nowMs`. */
export function localMinuteOfDay(nowMs: number, timeZone: string): number {
  let hour = 0;
  let minute = 0;
  for (const part of formatterFor(timeZone).formatToParts(nowMs)) {
    if (part.type === "hour") hour = Number(part.value);
    else if (part.type === "minute") minute = Number(part.value);
  }
  return (hour % 24) * 60 + minute;
}

export type CallingHoursVerdict =
  | { allowed: true }
  | {
      allowed: false;
      /** The zone whose local time falls outside the window (the first one found). */
      timeZone: string;
      /** `HH:MM` there. */
      localTime: string;
    };

/**
 * True only if `nowMs` is inside the window in every candidate zone: when the number cannot tell us which of a
 * country's zones the callee is in, the call must be permitted in all of them.
 */
export function checkCallingHours(
  nowMs: number,
  timeZones: readonly string[],
  window: CallingWindow = DEFAULT_CALLING_WINDOW,
): CallingHoursVerdict {
  if (timeZones.length === 0) return { allowed: false, timeZone: "unknown", localTime: "unknown" };
  for (const timeZone of timeZones) {
    const minute = localMinuteOfDay(nowMs, timeZone);
    if (minute < window.startMinute || minute >= window.endMinute) {
      const hh = String(Math.floor(minute / 60)).padStart(2, "0");
      const mm = String(minute % 60).padStart(2, "0");
      return { allowed: false, timeZone, localTime: `${hh}:${mm}` };
    }
  }
  return { allowed: true };
}
