// Console passwords in workerd's own WebCrypto: PBKDF2-SHA-256 at the platform's 100,000-iteration cap, salted (the
// same password hashes differently), verified in constant time, and a stored hash cannot ask for more work than
// the cap or smuggle in another format.
import { describe, expect, it } from "vitest";
import {
  DUMMY_HASH,
  hashPassword,
  needsRehash,
  PBKDF2_ITERATIONS,
  verifyPassword,
} from "../../../workers/src/console/auth/password.ts";

describe("console passwords", () => {
  it("hashes with PBKDF2-SHA-256 at 100,000 iterations and a fresh salt each time", async () => {
    expect(PBKDF2_ITERATIONS).toBe(100_000);
    const a = await hashPassword("correct horse battery");
    const b = await hashPassword("correct horse battery");
    expect(a).toMatch(/^pbkdf2-sha256\$100000\$[\w-]{22}\$[\w-]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword("correct horse battery", a)).toBe(true);
    expect(await verifyPassword("correct horse batterY", a)).toBe(false);
    expect(needsRehash(a)).toBe(false);
  });

  it("verifies an older, cheaper hash and asks for it to be re-hashed", async () => {
    const old = await hashPassword("an older password", 1_000);
    expect(await verifyPassword("an older password", old)).toBe(true);
    expect(needsRehash(old)).toBe(true);
  });

  it("refuses stored hashes over the cap or in another format without deriving anything", async () => {
    const good = await hashPassword("pw pw pw pw");
    const [, , salt, hash] = good.split("$");
    expect(await verifyPassword("pw pw pw pw", `pbkdf2-sha256$100000000$${salt}$${hash}`)).toBe(false);
    expect(await verifyPassword("pw pw pw pw", `pbkdf2-sha1$100000$${salt}$${hash}`)).toBe(false);
    expect(await verifyPassword("pw pw pw pw", `pbkdf2-sha256$100000$${salt}$AAAA`)).toBe(false);
    expect(await verifyPassword("pw pw pw pw", "plaintext")).toBe(false);
    expect(await verifyPassword("anything", DUMMY_HASH)).toBe(false);
  });
});
