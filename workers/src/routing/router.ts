// Choosing where a call runs: residency first (only the tenant's jurisdiction's regions), then nearness to the
// caller, then the least-loaded healthy node inside each region in that order. Never crosses a jurisdiction:
// an EU tenant with no EU node available gets no node, not a US one.
import type { CallControlEnv } from "../call-control-env.ts";
import type { NodeRecord } from "../do/media-region/node-pick.ts";
import { namespaceFor } from "../residency/residency.ts";
import { type EdgeLocation, rankRegions } from "./nearness.ts";
import { type Jurisdiction, regionsForJurisdiction } from "./regions.ts";

export type RouteDecision =
  | { ok: true; region: string; node: NodeRecord; tried: string[] }
  | { ok: false; tried: string[] };

export async function chooseMediaNode(
  env: CallControlEnv,
  input: {
    jurisdiction: Jurisdiction;
    callerNumber?: string | undefined;
    cf?: EdgeLocation | undefined;
    /** Nodes this call must not go to (a resumed call: the node it was lost on). */
    exclude?: readonly string[] | undefined;
  },
): Promise<RouteDecision> {
  const ranked = rankRegions(regionsForJurisdiction(input.jurisdiction), { number: input.callerNumber, cf: input.cf });
  const tried: string[] = [];
  const namespace = namespaceFor(env.MEDIA_REGION, env, input.jurisdiction);
  for (const region of ranked) {
    tried.push(region.id);
    try {
      const node = await namespace
        .getByName(region.id, { locationHint: region.locationHint })
        .assign(input.exclude ? { exclude: input.exclude } : {});
      if (node) return { ok: true, region: region.id, node, tried };
    } catch (error) {
      // A directory that cannot answer is a region we cannot use right now; the next one may do.
      console.warn("router: region directory failed", { region: region.id, error: String(error) });
    }
  }
  return { ok: false, tried };
}

/** The stream URL for a carrier: the node's base URL plus the carrier's path on the media node. */
export function streamUrlFor(node: NodeRecord, carrier: "twilio" | "telnyx"): string {
  return `${node.streamBaseUrl.replace(/\/$/, "")}/v1/telephony/${carrier}`;
}
