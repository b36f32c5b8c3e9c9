// The local database proxy bridges WebSockets to a trust-auth Postgres. It must never become a way in: only
// allow-listed targets, no browser pages (an Origin header), and no listening beyond loopback.
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type DbProxy, startDbProxy } from "../../../workers/src/db/node.ts";

let target: Server;
let targetAddress: string;
let proxy: DbProxy;

beforeAll(async () => {
  // A TCP echo server stands in for Postgres: what crosses the proxy comes back unchanged.
  target = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
  targetAddress = `127.0.0.1:${(target.address() as { port: number }).port}`;
  proxy = await startDbProxy({ port: 0, allow: [targetAddress] });
});

afterAll(async () => {
  await proxy.stop();
  await new Promise<void>((resolve) => target.close(() => resolve()));
});

/** Opens a WebSocket through the proxy; resolves with the echoed bytes, or the HTTP status it was refused with. */
function attempt(address: string, headers: Record<string, string> = {}): Promise<{ echoed?: string; status?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://${proxy.address}/v1?address=${address}`, { headers });
    ws.on("open", () => ws.send(Buffer.from("ping")));
    ws.on("message", (data: Buffer) => {
      ws.close();
      resolve({ echoed: data.toString() });
    });
    ws.on("unexpected-response", (_req, res) => {
      resolve({ status: res.statusCode });
      res.resume();
    });
    ws.on("error", () => resolve({}));
  });
}

describe("database proxy", () => {
  it("bridges to an allow-listed target", async () => {
    expect(await attempt(targetAddress)).toEqual({ echoed: "ping" });
  });

  it("refuses any target not on the allow-list, however it is spelled", async () => {
    const port = targetAddress.split(":")[1];
    for (const other of [`localhost:${port}`, "127.0.0.1:22", `10.0.0.1:${port}`, ""]) {
      expect(await attempt(other)).toEqual({ status: 403 });
    }
  });

  it("refuses a browser page (any Origin header), even for an allowed target", async () => {
    expect(await attempt(targetAddress, { origin: "http://evil.example" })).toEqual({ status: 403 });
  });

  it("will not listen beyond loopback", async () => {
    await expect(startDbProxy({ host: "0.0.0.0", port: 0, allow: [targetAddress] })).rejects.toThrow(/loopback/i);
  });
});
