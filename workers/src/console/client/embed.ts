// For a tenant's own site: `<script src=".../aybiza-web-call.js">` defines `AybizaWebCall`. See docs/console.md.
import { requestWebCall, WebCall, type WebCallEvents } from "./web-call.ts";

export { requestWebCall, WebCall };

/** One call: asks the edge with the publishable key, then streams the microphone and plays the agent. */
export async function startCall(options: {
  edgeUrl: string;
  publishableKey: string;
  agentId: string;
  /** Where capture-worklet.js is served (default: the edge's copy). */
  workletUrl?: string;
  events?: WebCallEvents;
}): Promise<WebCall> {
  const ticket = await requestWebCall(options.edgeUrl, options.publishableKey, options.agentId);
  const workletUrl = options.workletUrl ?? `${options.edgeUrl.replace(/\/$/, "")}/console/assets/capture-worklet.js`;
  return WebCall.start(ticket, workletUrl, options.events ?? {});
}
