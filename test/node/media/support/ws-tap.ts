// A WebSocket relay between a carrier (the simulated caller) and the node that notes when each message
// from the node passed, on the epoch clock (the Bedrock emulator records requests on it too). It is a
// wire tap, nothing more: messages pass unchanged and in order both ways.
import { WebSocket, WebSocketServer } from "ws";

export interface TappedMessage {
  /** Epoch ms (Date.now()) when the relay received it from the node. */
  at: number;
  event: string;
  markName?: string;
}

export interface WsTap {
  url: string;
  /** Messages from the node, in order. */
  fromNode: TappedMessage[];
  close(): Promise<void>;
}

export async function startWsTap(target: string): Promise<WsTap> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const fromNode: TappedMessage[] = [];
  server.on("connection", (client, req) => {
    const upstream = new WebSocket(target + (req.url && req.url !== "/" ? req.url : ""));
    const pending: string[] = [];
    upstream.on("open", () => {
      for (const m of pending.splice(0)) upstream.send(m);
    });
    client.on("message", (data) => {
      const text = data.toString();
      if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
      else pending.push(text);
    });
    upstream.on("message", (data) => {
      const text = data.toString();
      const msg = JSON.parse(text) as { event?: string; mark?: { name?: string } };
      fromNode.push({
        at: Date.now(),
        event: msg.event ?? "?",
        ...(msg.mark?.name ? { markName: msg.mark.name } : {}),
      });
      if (client.readyState === WebSocket.OPEN) client.send(text);
    });
    const closeBoth = (code: number, reason: Buffer) => {
      const c = code === 1005 || code === 1006 ? 1000 : code;
      if (client.readyState === WebSocket.OPEN) client.close(c, reason);
      if (upstream.readyState === WebSocket.OPEN) upstream.close(c, reason);
    };
    client.on("close", closeBoth);
    upstream.on("close", closeBoth);
    client.on("error", () => upstream.terminate());
    upstream.on("error", () => client.terminate());
  });
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    fromNode,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of server.clients) c.terminate();
        server.close(() => resolve());
      }),
  };
}
