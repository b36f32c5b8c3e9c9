// What a media node reports about itself every few seconds. Validated at the edge: the directory's choices are
// only as good as these numbers.
import { z } from "zod";
import { mediaRegionIdSchema } from "../../routing/regions.ts";

const streamUrl = z
  .string()
  .url()
  .refine((value) => /^wss?:\/\//.test(value), "must be a ws:// or wss:// URL")
  .refine((value) => !value.includes("?"), "must not carry a query string (Twilio forbids it)");

export const heartbeatSchema = z
  .object({
    nodeId: z.string().min(1).max(128),
    region: mediaRegionIdSchema,
    /** Base URL media streams connect to, e.g. `wss://media-1.eu-central-1.example.com`; paths are appended. */
    streamBaseUrl: streamUrl,
    activeCalls: z.number().int().min(0),
    /** Calls the node will accept at most (cores × calls per core). */
    capacity: z.number().int().min(1),
    /** A draining node finishes its calls and takes no new ones (deploys, scale-in). */
    draining: z.boolean().default(false),
    /** Node clock, epoch ms; a heartbeat older than the last one seen is ignored (reordered delivery). */
    sentAt: z.number().int().nonnegative(),
  })
  .strict();
export type Heartbeat = z.infer<typeof heartbeatSchema>;
