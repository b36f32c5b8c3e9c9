// A KEK in AWS KMS: data keys are wrapped with KMS Encrypt and unwrapped with KMS Decrypt, signed with SigV4 by
// aws4fetch (fetch + SubtleCrypto only, so it runs in workerd; the AWS SDK would drag in Node built-ins). The
// tenant ID is the KMS encryption context, so KMS itself refuses to unwrap a key under another tenant's name, and
// CloudTrail logs which tenant each unwrap was for. The key never leaves KMS.
import { AwsClient } from "aws4fetch";
import { z } from "zod";
import { fromBase64, type KeyEncryptionKey, KeyringError, toBase64 } from "./kek.ts";

export interface KmsKekOptions {
  /** Key ID or ARN of a symmetric KMS key. */
  keyId: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
  /** Default `https://kms.<region>.amazonaws.com` (a VPC endpoint or a test double may replace it). */
  endpoint?: string | undefined;
  fetch?: typeof fetch;
}

const EncryptAnswer = z.object({ CiphertextBlob: z.string().min(1) });
const DecryptAnswer = z.object({ Plaintext: z.string().min(1) });

export class KmsKek implements KeyEncryptionKey {
  readonly id: string;
  readonly #opts: KmsKekOptions;
  readonly #aws: AwsClient;

  constructor(opts: KmsKekOptions) {
    this.id = `kms:${opts.keyId}`;
    this.#opts = opts;
    // One try: the caller decides what a failure means (a request waits on it).
    this.#aws = new AwsClient({
      accessKeyId: opts.accessKeyId,
      secretAccessKey: opts.secretAccessKey,
      ...(opts.sessionToken ? { sessionToken: opts.sessionToken } : {}),
      service: "kms",
      region: opts.region,
      retries: 0,
    });
  }

  async wrap(dataKey: Uint8Array, context: string): Promise<string> {
    const answer = EncryptAnswer.parse(
      await this.#call("Encrypt", {
        KeyId: this.#opts.keyId,
        Plaintext: toBase64(dataKey),
        EncryptionContext: { tenant: context },
      }),
    );
    return answer.CiphertextBlob;
  }

  async unwrap(wrapped: string, context: string): Promise<Uint8Array> {
    const answer = DecryptAnswer.parse(
      await this.#call("Decrypt", {
        KeyId: this.#opts.keyId,
        CiphertextBlob: wrapped,
        EncryptionContext: { tenant: context },
      }),
    );
    return fromBase64(answer.Plaintext);
  }

  async #call(action: "Encrypt" | "Decrypt", body: unknown): Promise<unknown> {
    const endpoint = this.#opts.endpoint ?? `https://kms.${this.#opts.region}.amazonaws.com`;
    const request = await this.#aws.sign(`${endpoint.replace(/\/+$/, "")}/`, {
      method: "POST",
      headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": `TrentService.${action}` },
      body: JSON.stringify(body),
    });
    const res = await (this.#opts.fetch ?? fetch)(request, { signal: AbortSignal.timeout(5_000) });
    const text = await res.text();
    if (!res.ok) {
      // KMS errors are `{ "__type": "...Exception", "message": "..." }`; neither holds key material.
      let type = `HTTP ${res.status}`;
      try {
        const parsed = JSON.parse(text) as { __type?: string };
        if (parsed.__type) type = parsed.__type;
      } catch {}
      throw new KeyringError(`KMS ${action} failed: ${type}`);
    }
    return JSON.parse(text);
  }
}
