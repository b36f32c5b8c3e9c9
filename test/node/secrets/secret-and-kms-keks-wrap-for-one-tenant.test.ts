// Both KEK strategies pass the same behaviour suite: the Workers-secret KEK (AES-256-GCM) and the AWS KMS KEK, the
// latter through aws4fetch against a KMS stand-in that checks SigV4 signatures, keys and encryption contexts as KMS does.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KmsEmulator, startKmsEmulator } from "../../../emulators/kms/index.ts";
import { KmsKek } from "../../../workers/src/secrets/kms-kek.ts";
import { SecretKek } from "../../../workers/src/secrets/secret-kek.ts";
import { keyEncryptionKeyBehaviour } from "./key-encryption-keys.behaviour.ts";

const CREDENTIALS = {
  accessKeyId: "AKIAEXAMPLEKEY000001",
  secretAccessKey: "kms-test-secret-access-key-0000000000000",
};
const KEY_A = "arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-0000-0000-0000-000000000001";
const KEY_B = "arn:aws:kms:us-east-1:111122223333:key/bbbbbbbb-0000-0000-0000-000000000002";
let kms: KmsEmulator;

beforeAll(async () => {
  kms = await startKmsEmulator({ ...CREDENTIALS, keyIds: [KEY_A, KEY_B] });
});
afterAll(() => kms.close());

const kmsKek = (keyId: string, secretAccessKey = CREDENTIALS.secretAccessKey) =>
  new KmsKek({ keyId, region: "us-east-1", accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey, endpoint: kms.url });

keyEncryptionKeyBehaviour("Workers-secret", async () => ({
  kek: new SecretKek("k1", randomBytes(32).toString("base64")),
  other: new SecretKek("k2", randomBytes(32).toString("base64")),
}));

keyEncryptionKeyBehaviour("AWS KMS", async () => ({ kek: kmsKek(KEY_A), other: kmsKek(KEY_B) }));

describe("the KMS KEK", () => {
  it("names its key in the id stored beside each data key, and fails clearly with wrong credentials", async () => {
    expect(kmsKek(KEY_A).id).toBe(`kms:${KEY_A}`);
    await expect(kmsKek(KEY_A, "not-the-secret").wrap(new Uint8Array(32), "AYB-T")).rejects.toThrow(
      "KMS Encrypt failed: InvalidSignatureException",
    );
    expect(kms.calls.some((c) => c.action === "Encrypt" && c.status === 200)).toBe(true);
  });

  it("refuses a Workers-secret KEK that is not 32 bytes", () => {
    expect(() => new SecretKek("short", randomBytes(16).toString("base64"))).toThrow(/32 bytes/);
  });
});
