// The verification snippet tenants copy from docs/tools.md must accept our real requests and reject
// forgeries: run the snippet itself, not a copy of it.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ToolRunner } from "../../../../media-nodes/src/tools/runner.ts";
import { fixedToolSigningKeys } from "../../../../media-nodes/src/tools/signing-keys.ts";
import { json, orderSchema, type ReceivedCall, startWebhookServer } from "./webhook-server.ts";

const SECRET = "whsec_docs_snippet";
type Verify = (secret: string, headers: Record<string, string | undefined>, rawBody: string) => boolean;
let verify: Verify;
let server: Awaited<ReturnType<typeof startWebhookServer>>;

beforeAll(async () => {
  const doc = readFileSync(join(import.meta.dirname, "../../../../docs/tools.md"), "utf8");
  const snippet = /```js\n([\s\S]*?verifyAybizaSignature[\s\S]*?)```/.exec(doc)?.[1];
  if (!snippet) throw new Error("docs/tools.md has no Node verification snippet");
  const file = join(mkdtempSync(join(tmpdir(), "aybiza-doc-")), "verify.mjs");
  writeFileSync(file, snippet);
  verify = ((await import(pathToFileURL(file).href)) as { verifyAybizaSignature: Verify }).verifyAybizaSignature;
  server = await startWebhookServer(SECRET, (_c, res) => json(res, 200, { ok: true }));
});
afterAll(() => server.close());

const headersOf = (c: ReceivedCall) => ({
  "x-aybiza-timestamp": c.headers["x-aybiza-timestamp"] as string | undefined,
  "x-aybiza-signature": c.headers["x-aybiza-signature"] as string | undefined,
});

describe("docs/tools.md verification snippet", () => {
  it("accepts a request the ToolRunner signed and rejects tampering", async () => {
    const runner = new ToolRunner({
      signing: fixedToolSigningKeys(SECRET),
      tools: [
        {
          name: "lookup_order",
          description: "d",
          inputSchema: orderSchema,
          webhook: { url: server.url, timeoutMs: 2_000 },
        },
      ],
    });
    await runner.run([{ id: "t", name: "lookup_order", input: { orderNumber: "48213" } }], {
      callId: "c",
      tenantId: "t",
      history: [],
    });
    const received = server.received.at(-1)!;
    expect(verify(SECRET, headersOf(received), received.body)).toBe(true);
    expect(verify("wrong", headersOf(received), received.body)).toBe(false);
    expect(verify(SECRET, headersOf(received), received.body.replace("48213", "48214"))).toBe(false);
    expect(verify(SECRET, { ...headersOf(received), "x-aybiza-signature": undefined }, received.body)).toBe(false);
    expect(verify(SECRET, { ...headersOf(received), "x-aybiza-timestamp": "1000" }, received.body)).toBe(false);
  });
});
