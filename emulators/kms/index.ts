// An AWS KMS stand-in for the two calls envelope encryption makes: Encrypt and Decrypt (the JSON 1.1 protocol,
// `X-Amz-Target: TrentService.<Action>`). Like KMS it refuses a request whose SigV4 signature does not match the
// configured credentials, an unknown key, and a Decrypt whose encryption context differs from the Encrypt's. The
// signature is recomputed with aws4fetch's signer from the request as received, so a client that signs something
// else than it sends is caught. Keys live in memory; ciphertexts name their key like real KMS blobs do.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { AwsV4Signer } from "aws4fetch";

export interface KmsEmulatorOptions {
  port?: number;
  region?: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Key IDs or ARNs this account has. */
  keyIds: string[];
}

export interface KmsEmulator {
  url: string;
  /** Requests answered, by action and outcome (for tests). */
  calls: { action: string; status: number }[];
  close(): Promise<void>;
}

type Body = { KeyId?: string; Plaintext?: string; CiphertextBlob?: string; EncryptionContext?: Record<string, string> };

export async function startKmsEmulator(opts: KmsEmulatorOptions): Promise<KmsEmulator> {
  const region = opts.region ?? "us-east-1";
  const keys = new Map(opts.keyIds.map((id) => [id, randomBytes(32)]));
  const calls: KmsEmulator["calls"] = [];

  const server: Server = createServer(async (req, res) => {
    const raw = await readBody(req);
    const action = String(req.headers["x-amz-target"] ?? "").replace(/^TrentService\./, "");
    const answer = (status: number, body: unknown) => {
      calls.push({ action, status });
      res.writeHead(status, { "content-type": "application/x-amz-json-1.1" }).end(JSON.stringify(body));
    };
    const fail = (status: number, type: string, message: string) => answer(status, { __type: type, message });
    if (!(await signatureValid(req, raw, opts, region))) {
      return fail(400, "InvalidSignatureException", "The request signature we calculated does not match.");
    }
    let body: Body;
    try {
      body = JSON.parse(raw) as Body;
    } catch {
      return fail(400, "SerializationException", "not JSON");
    }
    const context = canonicalContext(body.EncryptionContext);
    if (action === "Encrypt") {
      const key = body.KeyId ? keys.get(body.KeyId) : undefined;
      if (!key || !body.KeyId) return fail(400, "NotFoundException", "Key not found");
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      cipher.setAAD(Buffer.from(context));
      const sealed = Buffer.concat([cipher.update(Buffer.from(body.Plaintext ?? "", "base64")), cipher.final()]);
      const keyId = Buffer.from(body.KeyId);
      const blob = Buffer.concat([Buffer.from([keyId.length]), keyId, iv, cipher.getAuthTag(), sealed]);
      return answer(200, { CiphertextBlob: blob.toString("base64"), KeyId: body.KeyId });
    }
    if (action === "Decrypt") {
      const blob = Buffer.from(body.CiphertextBlob ?? "", "base64");
      const keyId = blob.subarray(1, 1 + (blob[0] ?? 0)).toString();
      const key = keys.get(keyId);
      if (!key || (body.KeyId && body.KeyId !== keyId)) return fail(400, "IncorrectKeyException", "wrong key");
      const rest = blob.subarray(1 + (blob[0] ?? 0));
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, rest.subarray(0, 12));
        decipher.setAuthTag(rest.subarray(12, 28));
        decipher.setAAD(Buffer.from(context));
        const plain = Buffer.concat([decipher.update(rest.subarray(28)), decipher.final()]);
        return answer(200, { Plaintext: plain.toString("base64"), KeyId: keyId });
      } catch {
        return fail(400, "InvalidCiphertextException", "");
      }
    }
    return fail(400, "UnknownOperationException", action);
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function canonicalContext(context: Record<string, string> | undefined): string {
  return JSON.stringify(Object.entries(context ?? {}).sort(([a], [b]) => a.localeCompare(b)));
}

/** Recomputes the SigV4 Authorization header for the request as received, with our copy of the credentials. */
async function signatureValid(req: IncomingMessage, body: string, opts: KmsEmulatorOptions, region: string) {
  const auth = String(req.headers.authorization ?? "");
  const date = req.headers["x-amz-date"];
  const signed = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(";") ?? [];
  if (!auth.startsWith("AWS4-HMAC-SHA256 ") || typeof date !== "string" || signed.length === 0) return false;
  const headers: Record<string, string> = {};
  for (const name of signed) {
    const value = req.headers[name];
    if (typeof value === "string") headers[name] = value;
  }
  const signer = new AwsV4Signer({
    method: req.method ?? "POST",
    url: `http://${req.headers.host}${req.url}`,
    headers,
    body,
    accessKeyId: opts.accessKeyId,
    secretAccessKey: opts.secretAccessKey,
    service: "kms",
    region,
    datetime: date,
    allHeaders: true,
  });
  const expected = (await signer.sign()).headers.get("authorization");
  return expected === auth;
}
