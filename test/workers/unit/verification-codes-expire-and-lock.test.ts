import { describe, expect, it } from "vitest";
import {
  CODE_TTL_MS,
  generateCode,
  hashCode,
  judgeAttempt,
  MAX_ATTEMPTS,
  maskPhone,
  normalizeSpokenCode,
  type VerificationState,
} from "../../../workers/src/verify/codes.ts";

const start = 1_000_000;

async function pending(code: string): Promise<VerificationState> {
  return {
    status: "pending",
    attempts: 0,
    expiresAt: start + CODE_TTL_MS,
    codeHash: await hashCode(code, "ver_1", "salt", "secret"),
  };
}

describe("verification codes", () => {
  it("are six digits and vary", () => {
    const codes = new Set(Array.from({ length: 200 }, generateCode));
    for (const code of codes) expect(code).toMatch(/^\d{6}$/);
    expect(codes.size).toBeGreaterThan(190);
  });

  it("store only a keyed hash that depends on the verification, salt and secret", async () => {
    const hash = await hashCode("123456", "ver_1", "salt", "secret");
    expect(hash).not.toContain("123456");
    expect(await hashCode("123456", "ver_2", "salt", "secret")).not.toBe(hash);
    expect(await hashCode("123456", "ver_1", "salt2", "secret")).not.toBe(hash);
    expect(await hashCode("123456", "ver_1", "salt", "other")).not.toBe(hash);
    expect(await hashCode("123456", "ver_1", "salt", "secret")).toBe(hash);
  });

  it("verify on the right code within five minutes", async () => {
    const state = await pending("482913");
    const result = judgeAttempt(state, await hashCode("482913", "ver_1", "salt", "secret"), start + CODE_TTL_MS - 1);
    expect(result.outcome).toBe("verified");
    expect(judgeAttempt(result.state, state.codeHash, start).outcome).toBe("already-verified");
  });

  it("expire after five minutes even for the right code", async () => {
    const state = await pending("482913");
    expect(judgeAttempt(state, state.codeHash, start + CODE_TTL_MS).outcome).toBe("expired");
  });

  it("lock after five wrong attempts, and stay locked for the right code", async () => {
    let state = await pending("482913");
    const wrong = await hashCode("000000", "ver_1", "salt", "secret");
    for (let i = 1; i < MAX_ATTEMPTS; i++) {
      const result = judgeAttempt(state, wrong, start);
      expect(result).toMatchObject({ outcome: "incorrect", attemptsLeft: MAX_ATTEMPTS - i });
      state = result.state;
    }
    const fifth = judgeAttempt(state, wrong, start);
    expect(fifth.outcome).toBe("locked");
    expect(judgeAttempt(fifth.state, state.codeHash, start).outcome).toBe("locked");
  });

  it("read spoken digits the way speech recognition writes them", () => {
    expect(normalizeSpokenCode("482 913")).toBe("482913");
    expect(normalizeSpokenCode("four eight two, nine one three")).toBe("482913");
    expect(normalizeSpokenCode("oh 1-2-3 4 5")).toBe("012345");
    expect(normalizeSpokenCode("48291")).toBeUndefined();
    expect(normalizeSpokenCode("four eight two banana")).toBeUndefined();
  });

  it("mask the phone number they went to", () => {
    expect(maskPhone("+14155550123")).toBe("+1••••••0123");
  });
});
