// What every carrier webhook handler needs from the raw request: the body exactly as sent (signatures cover the
// bytes), the URL the carrier signed, and `request.cf` for routing.
import type { EdgeLocation } from "../routing/nearness.ts";

/**
 * The URLs the carrier may have signed: the one we were reached at, and the public one configured in the
 * carrier console when the edge sits behind a proxy (PUBLIC_BASE_URL + path + query).
 */
export function signedUrlCandidates(request: Request, publicBaseUrl: string | undefined): string[] {
  const url = new URL(request.url);
  const candidates = [request.url];
  if (publicBaseUrl) candidates.push(`${publicBaseUrl.replace(/\/$/, "")}${url.pathname}${url.search}`);
  return [...new Set(candidates)];
}

export function edgeLocation(request: Request): EdgeLocation | undefined {
  const cf = (request as Request & { cf?: IncomingRequestCfProperties }).cf;
  if (!cf) return undefined;
  return {
    country: typeof cf.country === "string" ? cf.country : undefined,
    latitude: typeof cf.latitude === "string" ? cf.latitude : undefined,
    longitude: typeof cf.longitude === "string" ? cf.longitude : undefined,
  };
}

export function xml(body: string, status = 200): Response {
  return new Response(body, { status, headers: { "content-type": "text/xml; charset=utf-8" } });
}

/** `ctx.waitUntil`, or plain fire-and-forget where there is no execution context (app.request in unit tests). */
export function deferrer(c: { executionCtx: ExecutionContext }): (work: Promise<unknown>) => void {
  try {
    const ctx = c.executionCtx;
    return (work) => ctx.waitUntil(work);
  } catch {
    return (work) => void work.catch(() => undefined);
  }
}
