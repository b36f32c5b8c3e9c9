// What a Flux client may send on /v2/listen (protocols.md §8): Configure (thresholds, keyterms, language hints,
// numerals, within the service's limits), ForceEndTurn and CloseStream, as JSON text. Anything else, including
// v1's KeepAlive and Finalize, is not a Flux message: the service closes the stream, except that a Configure it
// cannot accept only gets a ConfigureFailure.
import { z } from "zod";
import { FLUX_LIMITS } from "./params.ts";

const Threshold = (min: number, max: number) => z.number().min(min).max(max);
export const ConfigureMessage = z.object({
  type: z.literal("Configure"),
  thresholds: z
    .object({
      eager_eot_threshold: Threshold(FLUX_LIMITS.eagerEotThreshold.min, FLUX_LIMITS.eagerEotThreshold.max).optional(),
      eot_threshold: Threshold(FLUX_LIMITS.eotThreshold.min, FLUX_LIMITS.eotThreshold.max).optional(),
      eot_timeout_ms: z.number().int().min(FLUX_LIMITS.eotTimeoutMs.min).max(FLUX_LIMITS.eotTimeoutMs.max).optional(),
    })
    .strict()
    .optional(),
  keyterms: z.union([z.string(), z.array(z.string().max(1000)).max(100)]).optional(),
  language_hints: z.array(z.string()).max(20).optional(),
  numerals: z.boolean().optional(),
});
const ClientMessage = z.union([
  ConfigureMessage,
  z.object({ type: z.literal("ForceEndTurn") }),
  z.object({ type: z.literal("CloseStream") }),
]);
export type ConfigureMessage = z.infer<typeof ConfigureMessage>;
export type FluxClientMessage = z.infer<typeof ClientMessage>;

/** One text message: the message, a Configure to refuse, or why the stream is closed as unparsable. */
export function decodeClientMessage(
  text: string,
): { message: FluxClientMessage } | { configureFailure: true } | { unparsable: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { unparsable: "Text messages must be JSON." };
  }
  const msg = ClientMessage.safeParse(json);
  if (msg.success) return { message: msg.data };
  const type = json && typeof json === "object" && "type" in json ? String(json.type) : "(none)";
  if (type === "Configure") return { configureFailure: true };
  return { unparsable: `Unknown or malformed message of type ${type}.` };
}
