import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { CallControlEnv } from "../../../workers/src/call-control-env.ts";
import { PLANS } from "../../../workers/src/do/tenant-limiter/plans.ts";
import { type TenantLimiter, UNREPORTED_LEASE_MS } from "../../../workers/src/do/tenant-limiter/tenant-limiter.ts";

const edge = env as unknown as CallControlEnv;
let tenants = 0;
const limiter = () => edge.TENANT_LIMITER.getByName(`AYB-TEST-${++tenants}-${crypto.randomUUID()}`);

describe("TenantLimiter", () => {
  it("admits calls up to the plan's concurrency and refuses the next without taking a lease", async () => {
    const stub = limiter();
    const max = PLANS.free.maxConcurrentCalls;
    for (let i = 0; i < max; i++)
      expect(await stub.admitCall({ callId: `call_${i}`, plan: "free" })).toMatchObject({ ok: true });
    expect(await stub.admitCall({ callId: "call_over", plan: "free" })).toEqual({
      ok: false,
      reason: "concurrency",
      activeCalls: max,
      maxConcurrentCalls: max,
    });
    expect((await stub.leases()).map((l) => l.callId)).not.toContain("call_over");
  });

  it("gives capacity back on release, once", async () => {
    const stub = limiter();
    await stub.admitCall({ callId: "call_a", plan: "free" });
    await stub.admitCall({ callId: "call_b", plan: "free" });
    expect(await stub.releaseLease("call_a")).toBe(true);
    expect(await stub.releaseLease("call_a")).toBe(false);
    expect(await stub.admitCall({ callId: "call_c", plan: "free" })).toMatchObject({ ok: true, activeCalls: 2 });
  });

  it("refuses a burst of call starts beyond the bucket with a retry hint", async () => {
    const stub = limiter();
    const burst = PLANS.free.callStarts.capacity;
    for (let i = 0; i < burst; i++) {
      expect(await stub.admitCall({ callId: `call_${i}`, plan: "free" })).toMatchObject({ ok: true });
      await stub.releaseLease(`call_${i}`);
    }
    const refused = await stub.admitCall({ callId: "call_next", plan: "free" });
    expect(refused).toMatchObject({ ok: false, reason: "rate" });
    expect(refused.ok === false && refused.reason === "rate" && refused.retryAfterMs).toBeGreaterThan(0);
    expect(await stub.leases()).toEqual([]);
  });

  it("is idempotent for a call that already holds a lease", async () => {
    const stub = limiter();
    const first = await stub.admitCall({ callId: "call_same", plan: "free" });
    const again = await stub.admitCall({ callId: "call_same", plan: "free" });
    expect(again).toMatchObject({ ok: true, activeCalls: 1 });
    expect(first.ok && again.ok && again.expiresAt).toBe(first.ok && first.expiresAt);
  });

  it("refuses a replayed webhook even under another call id", async () => {
    const stub = limiter();
    expect(await stub.admitCall({ callId: "call_1", plan: "free", replayKey: "twilio:CA1:sig" })).toMatchObject({
      ok: true,
    });
    expect(await stub.admitCall({ callId: "call_2", plan: "free", replayKey: "twilio:CA1:sig" })).toEqual({
      ok: false,
      reason: "replay",
    });
    expect(await stub.firstSighting("sms:SM1")).toBe(true);
    expect(await stub.firstSighting("sms:SM1")).toBe(false);
  });

  it("expires a lease no media node confirmed, by alarm", async () => {
    const stub = limiter();
    const admitted = await stub.admitCall({ callId: "call_silent", plan: "free" });
    if (!admitted.ok) throw new Error("not admitted");
    const alarm = await runInDurableObject(stub, (_i: TenantLimiter, state) => state.storage.getAlarm());
    expect(alarm).toBe(admitted.expiresAt);
    // The alarm itself runs the sweep (nothing is due yet, so the lease stays)…
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.leases()).toHaveLength(1);
    // …and at the lease's expiry the sweep gives it back.
    const expired = await runInDurableObject(stub, (instance: TenantLimiter) => instance.sweep(admitted.expiresAt));
    expect(expired).toEqual(["call_silent"]);
    expect(await stub.leases()).toEqual([]);
    expect(await runInDurableObject(stub, (_i: TenantLimiter, state) => state.storage.getAlarm())).toBeNull();
  });

  it("gives a full tenant its slot back when the alarm fires after an unconfirmed lease's expiry", async () => {
    const stub = limiter();
    const max = PLANS.free.maxConcurrentCalls;
    const first = await stub.admitCall({ callId: "call_never_connected", plan: "free" });
    if (!first.ok) throw new Error("not admitted");
    for (let i = 1; i < max; i++) await stub.admitCall({ callId: `call_live_${i}`, plan: "free" });
    for (let i = 1; i < max; i++) await stub.confirmLease(`call_live_${i}`, "free");
    expect(await stub.admitCall({ callId: "call_waiting", plan: "free" })).toMatchObject({ reason: "concurrency" });

    // The clock moves past the unconfirmed lease's expiry and its alarm fires: nothing calls sweep() by hand.
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(first.expiresAt + 1);
      expect(await runDurableObjectAlarm(stub)).toBe(true);
    } finally {
      vi.useRealTimers();
    }

    // Back at the real time, when the lease would still look live had the alarm not deleted it.
    expect(Date.now()).toBeLessThan(first.expiresAt);
    expect((await stub.leases()).map((lease) => lease.callId)).not.toContain("call_never_connected");
    expect(await stub.admitCall({ callId: "call_waiting", plan: "free" })).toMatchObject({ ok: true });
    expect((await stub.leases()).map((lease) => lease.callId)).toContain("call_waiting");
  });

  it("keeps a confirmed lease past the short timeout, until the plan's longest call", async () => {
    const stub = limiter();
    const admitted = await stub.admitCall({ callId: "call_live", plan: "free" });
    if (!admitted.ok) throw new Error("not admitted");
    expect(await stub.confirmLease("call_live", "free")).toBe(true);
    const [lease] = await stub.leases();
    expect(lease?.reported).toBe(true);
    expect(
      await runInDurableObject(stub, (i: TenantLimiter) => i.sweep(admitted.expiresAt + UNREPORTED_LEASE_MS)),
    ).toEqual([]);
    const end = (lease?.acquiredAt ?? 0) + PLANS.free.maxCallDurationMs;
    expect(await runInDurableObject(stub, (i: TenantLimiter) => i.sweep(end))).toEqual(["call_live"]);
    expect(await stub.confirmLease("call_live", "free")).toBe(false);
  });

  it("limits API requests per plan", async () => {
    const stub = limiter();
    let last = await stub.takeApiToken("free");
    for (let i = 1; i < PLANS.free.apiRequests.capacity; i++) last = await stub.takeApiToken("free");
    expect(last).toMatchObject({ ok: true, remaining: 0, limit: PLANS.free.apiRequests.capacity });
    expect(await stub.takeApiToken("free")).toMatchObject({ ok: false });
  });
});
