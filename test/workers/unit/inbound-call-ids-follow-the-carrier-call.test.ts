import { describe, expect, it } from "vitest";
import { isResourceId } from "../../../shared/ids.ts";
import { callIdForCarrierCall } from "../../../workers/src/do/call-ledger/call-id.ts";

describe("inbound call IDs", () => {
  it("are ordinary call resource IDs, the same for every webhook of one carrier call", async () => {
    const sid = `CA${"1".repeat(32)}`;
    const id = await callIdForCarrierCall("twilio", sid);
    expect(isResourceId("call", id)).toBe(true);
    expect(await callIdForCarrierCall("twilio", sid)).toBe(id);
  });

  it("differ between calls and between carriers", async () => {
    const a = await callIdForCarrierCall("twilio", `CA${"1".repeat(32)}`);
    expect(await callIdForCarrierCall("twilio", `CA${"2".repeat(32)}`)).not.toBe(a);
    expect(await callIdForCarrierCall("telnyx", `CA${"1".repeat(32)}`)).not.toBe(a);
  });
});
