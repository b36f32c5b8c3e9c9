// Key-encryption keys: what wraps each tenant's data keys. One interface, one strategy per place the key lives
// (a Workers secret, AWS KMS); the vault never branches on which. A wrapped data key records the `id` of the KEK
// that wrapped it, so keys wrapped by an older KEK still unwrap while a rotation re-wraps them.

/** A key-encryption key. `context` (the tenant ID) is bound to the wrapped bytes: a key copied to another tenant does not unwrap. */
export interface KeyEncryptionKey {
  /** Stored beside every data key it wraps: `secret:<kid>` or `kms:<key ARN>`. */
  readonly id: string;
  wrap(dataKey: Uint8Array, context: string): Promise<string>;
  unwrap(wrapped: string, context: string): Promise<Uint8Array>;
}

/** The KEK that wraps new data keys, and every KEK that may still be needed to unwrap old ones. */
export interface Keyring {
  readonly current: KeyEncryptionKey;
  byId(id: string): KeyEncryptionKey | undefined;
}

export class KeyringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyringError";
  }
}

export function keyring(current: KeyEncryptionKey, others: readonly KeyEncryptionKey[] = []): Keyring {
  const all = new Map([...others, current].map((k) => [k.id, k]));
  return { current, byId: (id) => all.get(id) };
}

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
