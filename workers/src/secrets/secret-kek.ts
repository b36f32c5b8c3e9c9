// A KEK held as a Workers secret (or, locally, generated into .data/ by `npm start`): 32 random bytes, used with
// AES-256-GCM to wrap data keys. The tenant ID is the additional authenticated data.
import { fromBase64, type KeyEncryptionKey, KeyringError, toBase64 } from "./kek.ts";

const IV_BYTES = 12;

export class SecretKek implements KeyEncryptionKey {
  readonly id: string;
  readonly #key: Promise<CryptoKey>;

  /** `material`: base64 of exactly 32 bytes. */
  constructor(kid: string, material: string) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(kid))
      throw new KeyringError(`KEK id "${kid}" must be 1-64 of A-Z a-z 0-9 . _ -`);
    let raw: Uint8Array<ArrayBuffer>;
    try {
      raw = fromBase64(material);
    } catch {
      throw new KeyringError(`KEK ${kid} is not base64`);
    }
    if (raw.byteLength !== 32) throw new KeyringError(`KEK ${kid} must be 32 bytes (base64), got ${raw.byteLength}`);
    this.id = `secret:${kid}`;
    this.#key = crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  }

  async wrap(dataKey: Uint8Array, context: string): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: aad(context) },
      await this.#key,
      new Uint8Array(dataKey),
    );
    const out = new Uint8Array(IV_BYTES + sealed.byteLength);
    out.set(iv);
    out.set(new Uint8Array(sealed), IV_BYTES);
    return toBase64(out);
  }

  async unwrap(wrapped: string, context: string): Promise<Uint8Array> {
    const bytes = fromBase64(wrapped);
    const opened = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES), additionalData: aad(context) },
      await this.#key,
      bytes.subarray(IV_BYTES),
    );
    return new Uint8Array(opened);
  }
}

const aad = (context: string) => new TextEncoder().encode(`aybiza-data-key:${context}`);
