// The tenant's concurrent-call lease, held by the call's ledger from routing to the end: confirmed when the node
// reports the call started, given back when it ends (and retried by the alarm until the TenantLimiter has it).
import { namespaceFor } from "../../residency/residency.ts";
import type { LedgerCore } from "./core.ts";
import type { CallRecord } from "./records.ts";

function limiter(core: LedgerCore, record: CallRecord) {
  return namespaceFor(core.env.TENANT_LIMITER, core.env, record.jurisdiction).getByName(record.tenantId);
}

export async function confirmLease(core: LedgerCore, record: CallRecord): Promise<void> {
  const stored = core.session.load();
  if (!stored?.leaseHeld) return;
  try {
    await limiter(core, record).confirmLease(record.callId, record.plan);
  } catch (error) {
    // The lease then expires on its short timer; the call itself goes on.
    console.warn("call-ledger: could not confirm lease", { call: core.name(), error: String(error) });
  }
}

export async function releaseLease(core: LedgerCore): Promise<void> {
  const stored = core.session.load();
  if (!stored?.leaseHeld) return;
  try {
    await limiter(core, stored.record).releaseLease(stored.record.callId);
    stored.leaseHeld = false;
    core.session.save(stored);
  } catch (error) {
    // Still held: the alarm tries again, and the limiter's own expiry is the last resort.
    console.warn("call-ledger: could not release lease, will retry", { call: core.name(), error: String(error) });
    await core.schedule(Date.now() + 5_000);
  }
}
