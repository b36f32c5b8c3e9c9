// A tenant's webhook server for tests: verifies our signature the way docs/tools.md tells tenants to,
// and answers with whatever the test asks for.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { verifySignature } from "../../../../media-nodes/src/tools/signing.ts";

export interface ReceivedCall {
  path: string;
  body: string;
  json: unknown;
  headers: IncomingMessage["headers"];
  signatureValid: boolean;
  receivedAt: number;
}

export type Handler = (call: ReceivedCall, res: ServerResponse) => void | Promise<void>;

export async function startWebhookServer(secret: string, handler: Handler) {
  const received: ReceivedCall[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const check = verifySignature(
        secret,
        {
          timestamp: req.headers["x-aybiza-timestamp"] as string | undefined,
          signature: req.headers["x-aybiza-signature"] as string | undefined,
        },
        body,
      );
      const call: ReceivedCall = {
        path: req.url ?? "/",
        body,
        json: JSON.parse(body),
        headers: req.headers,
        signatureValid: check.ok,
        receivedAt: Date.now(),
      };
      received.push(call);
      void handler(call, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}

export const orderSchema = {
  type: "object",
  properties: { orderNumber: { type: "string", pattern: "^[0-9]{4,10}$" } },
  required: ["orderNumber"],
  additionalProperties: false,
};
