// The emulator's transport: HTTP/2 cleartext (what the AWS SDK's default Node handler speaks to an http://
// endpoint, with prior knowledge) and HTTP/1.1 (NodeHttpHandler, curl) on one port. The first bytes of a
// connection say which, since every HTTP/2 connection opens with the "PRI * HTTP/2.0" preface. Also the few
// request and response helpers both protocols' compat objects share.
import http, { type IncomingHttpHeaders } from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";
import { type BedrockError, ERROR_NAMESPACE, validation } from "./errors.ts";

const MAX_BODY_BYTES = 20 * 1024 * 1024;
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

// The parts of node:http and node:http2 (compat API) request/response objects this file uses.
export interface RequestLike {
  method?: string | undefined;
  url?: string | undefined;
  headers: IncomingHttpHeaders;
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  on(event: "end" | "close", listener: () => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
}
export interface ResponseLike {
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(chunk: Uint8Array): unknown;
  end(chunk?: Uint8Array | string): unknown;
  on(event: "close", listener: () => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
}

export function header(req: RequestLike, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function sendJson(res: ResponseLike, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ResponseLike, error: BedrockError, requestId: string): void {
  sendJson(res, error.status, error.body(), {
    "x-amzn-requestid": requestId,
    "x-amzn-errortype": `${error.type}:${ERROR_NAMESPACE}`,
  });
}

export function readBody(req: RequestLike): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("end", () =>
      size > MAX_BODY_BYTES
        ? reject(validation(`Request body is ${size} bytes; the limit is ${MAX_BODY_BYTES}.`))
        : resolve(Buffer.concat(chunks)),
    );
    req.on("error", reject);
  });
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

export interface DualServer {
  port: number;
  close(): Promise<void>;
}

/** Listens on `host:port` and serves each connection over HTTP/2 or HTTP/1.1, as its first bytes say. */
export async function listenHttp1And2(
  host: string,
  port: number,
  handle: (req: RequestLike, res: ResponseLike) => void,
): Promise<DualServer> {
  const h2 = http2.createServer();
  h2.on("request", (req, res) => handle(req, res));
  h2.on("stream", (stream) => stream.on("error", () => {}));
  h2.on("sessionError", () => {});
  const h1 = http.createServer((req, res) => handle(req, res));
  h1.on("clientError", (_err, socket) => socket.destroy());

  const sockets = new Set<net.Socket>();
  const tcp = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, H2_PREFACE.length);
      const looksH2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (looksH2 && head.length < 3) return; // not enough to tell yet
      socket.off("data", onData);
      socket.pause();
      if (looksH2) h2.emit("connection", wrapForHttp2(socket, head));
      else {
        socket.unshift(head);
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  });

  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(port, host, () => {
      tcp.off("error", reject);
      resolve();
    });
  });
  const address = tcp.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        tcp.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        h1.close();
        h2.close();
      }),
  };
}

/**
 * Hands an HTTP/2 connection whose first bytes were already read to the HTTP/2 server. Node 20's
 * Http2Session reads the socket handle directly and would miss unshifted bytes, so it gets a stream
 * that replays them and then relays the socket.
 */
function wrapForHttp2(socket: net.Socket, head: Buffer): Duplex {
  const relay = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end();
      callback();
    },
    destroy(error, callback) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  relay.push(head);
  socket.on("data", (chunk: Buffer) => {
    if (!relay.push(chunk)) socket.pause();
  });
  socket.on("end", () => relay.push(null));
  socket.on("close", () => relay.destroy());
  socket.on("error", (error) => relay.destroy(error));
  socket.resume();
  return relay;
}
