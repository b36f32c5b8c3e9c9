// Finding a call's CallLedger from anything that names the call. Without Durable Object jurisdictions (local
// workerd) there is one namespace; with them, a session lives in its tenant's jurisdiction and a caller that
// knows only the call ID asks each jurisdiction in turn.
import type { CallControlEnv } from "../../call-control-env.ts";
import type { Jurisdiction } from "../../db/schema.ts";
import { durableObjectJurisdiction, namespaceFor } from "../../residency/residency.ts";
import type { CallLedger } from "./call-ledger.ts";

export function sessionStub(
  env: CallControlEnv,
  callId: string,
  jurisdiction: Jurisdiction,
): DurableObjectStub<CallLedger> {
  return namespaceFor(env.CALL_LEDGER, env, jurisdiction).getByName(callId);
}

/** The stub of an existing session, or undefined when no jurisdiction holds one for this call. */
export async function locateSession(
  env: CallControlEnv,
  callId: string,
): Promise<DurableObjectStub<CallLedger> | undefined> {
  const jurisdictions: Jurisdiction[] = durableObjectJurisdiction(env, "eu") ? ["eu", "us"] : ["us"];
  for (const jurisdiction of jurisdictions) {
    const stub = sessionStub(env, callId, jurisdiction);
    if (await stub.snapshot()) return stub;
  }
  return undefined;
}
