// A TCP proxy between a client SDK and an emulator that a test can cut, to drop a live connection the
// way a network failure does (no close frame, just gone). More honest than asking the emulator to
// misbehave: the client can't tell it from a real outage.
import { connect, createServer, type Socket } from "node:net";

export interface CutProxy {
  url: string;
  /** Connections accepted so far. */
  connections: number;
  /** Connections turned away while `refuse` was set. */
  refused: number;
  /** The first bytes each connection sent (the HTTP upgrade request line and headers). */
  requestHeads: string[];
  /** Bytes forwarded from the client per connection. */
  bytesUp: number[];
  /** Destroys every open connection at once. */
  cut(): void;
  /** While set, new connections are refused (closed at once). */
  refuse: boolean;
  close(): Promise<void>;
}

export async function startCutProxy(target: string): Promise<CutProxy> {
  const upstream = new URL(target);
  const open = new Set<Socket>();
  const proxy: CutProxy = {
    url: "",
    connections: 0,
    refused: 0,
    requestHeads: [],
    bytesUp: [],
    refuse: false,
    cut() {
      for (const s of open) s.destroy();
      open.clear();
    },
    close: async () => {
      proxy.cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((client) => {
    if (proxy.refuse) {
      proxy.refused++;
      client.destroy();
      return;
    }
    const index = proxy.connections++;
    proxy.bytesUp[index] = 0;
    const server = connect(Number(upstream.port), upstream.hostname);
    open.add(client);
    open.add(server);
    let head = "";
    client.on("data", (chunk: Buffer) => {
      proxy.bytesUp[index] = (proxy.bytesUp[index] ?? 0) + chunk.length;
      if (head.length < 2048 && !head.includes("\r\n\r\n")) {
        head += chunk.toString("latin1");
        if (head.includes("\r\n\r\n")) proxy.requestHeads[index] = head.slice(0, head.indexOf("\r\n\r\n"));
      }
      server.write(chunk);
    });
    server.on("data", (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      server.destroy();
      open.delete(client);
      open.delete(server);
    };
    client.on("close", end);
    server.on("close", end);
    client.on("error", end);
    server.on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return proxy;
}
