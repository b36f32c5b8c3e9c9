// What every key-encryption key must do, whatever holds the key: wrap a data key so that only the same KEK, under
// the same tenant, unwraps it. Run by each strategy's test.
import { describe, expect, it } from "vitest";
import type { KeyEncryptionKey } from "../../../workers/src/secrets/kek.ts";

export function keyEncryptionKeyBehaviour(
  name: string,
  make: () => Promise<{ kek: KeyEncryptionKey; other: KeyEncryptionKey }>,
) {
  describe(`${name} key-encryption key`, () => {
    it("unwraps what it wrapped, for the same tenant only", async () => {
      const { kek } = await make();
      const dataKey = crypto.getRandomValues(new Uint8Array(32));
      const wrapped = await kek.wrap(dataKey, "AYB-TENANT-A");
      expect(wrapped).not.toContain(Buffer.from(dataKey).toString("base64"));
      expect(Buffer.from(await kek.unwrap(wrapped, "AYB-TENANT-A"))).toEqual(Buffer.from(dataKey));
      await expect(kek.unwrap(wrapped, "AYB-TENANT-B")).rejects.toThrow();
    });

    it("wraps the same key differently each time, and another KEK cannot unwrap it", async () => {
      const { kek, other } = await make();
      const dataKey = crypto.getRandomValues(new Uint8Array(32));
      const first = await kek.wrap(dataKey, "AYB-TENANT-A");
      expect(await kek.wrap(dataKey, "AYB-TENANT-A")).not.toBe(first);
      await expect(other.unwrap(first, "AYB-TENANT-A")).rejects.toThrow();
    });
  });
}
