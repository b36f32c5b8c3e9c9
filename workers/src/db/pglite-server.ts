// Serves one PGlite over the Postgres wire protocol to many TCP connections (node-only; see node.ts).
//
// PGlite is a single backend session, so connections must take turns. A turn lasts from a connection's first
// message until it has sent Sync or a simple Query *and* the session is outside a transaction: an extended-protocol
// exchange (Parse, Bind, Describe, Execute, Sync) and a whole transaction run without another connection's
// messages in between. pglite-socket, which this replaces, took turns per message outside transactions, so with
// three or more busy connections one connection's Bind could land on another's Parse: a statement run with
// someone else's parameters, answers sent to the wrong socket, a client waiting forever. That showed up as a 500
// in the Worker suites' concurrent-request tests under load, and could never happen on a real server, where every
// connection is its own session. Upstream: electric-sql/pglite#1046 (open; pglite-socket 0.2.x).
import net from "node:net";
import type { PGlite } from "@electric-sql/pglite";

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const SYNC = Buffer.from([0x53, 0, 0, 0, 4]);

export type PgliteServer = { port: number; stop: () => Promise<void> };

/** One connection's claim on the session; `release` hands it to the next waiting connection. */
class SessionTurns {
  private owner: object | null = null;
  private readonly waiting: { who: object; go: () => void }[] = [];

  async take(who: object): Promise<void> {
    if (this.owner === who) return;
    if (this.owner === null) {
      this.owner = who;
      return;
    }
    await new Promise<void>((go) => this.waiting.push({ who, go }));
  }

  holds(who: object): boolean {
    return this.owner === who;
  }

  release(who: object): void {
    if (this.owner !== who) return;
    const next = this.waiting.shift();
    this.owner = next?.who ?? null;
    next?.go();
  }

  forget(who: object): void {
    const i = this.waiting.findIndex((w) => w.who === who);
    if (i >= 0) this.waiting.splice(i, 1);
  }
}

export async function startPgliteServer(
  pglite: PGlite,
  { host, port, maxConnections }: { host: string; port: number; maxConnections: number },
): Promise<PgliteServer> {
  await pglite.waitReady;
  const turns = new SessionTurns();
  const sockets = new Set<net.Socket>();

  const run = (message: Uint8Array, socket: net.Socket) =>
    pglite.runExclusive(() =>
      pglite.execProtocolRawStream(message, {
        onRawData: (data) => {
          if (data.length > 0 && socket.writable) socket.write(data);
        },
      }),
    );

  /** Gives the session back clean when a connection leaves mid-exchange or mid-transaction. */
  const leave = async (who: object) => {
    turns.forget(who);
    if (!turns.holds(who)) return;
    try {
      await pglite.runExclusive(() => pglite.execProtocolRaw(SYNC));
      if (pglite.isInTransaction()) await pglite.exec("ROLLBACK");
    } finally {
      turns.release(who);
    }
  };

  const server = net.createServer((socket) => {
    if (sockets.size >= maxConnections) {
      socket.end("Too many connections\n");
      return;
    }
    sockets.add(socket);
    socket.setNoDelay(true);
    const who = {};
    let started = false;
    let buffered = Buffer.alloc(0);
    let chain = Promise.resolve();
    let gone = false;

    const handle = async (message: Buffer) => {
      if (gone) return;
      if (!started) {
        const code = message.length >= 8 ? message.readInt32BE(4) : 0;
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          socket.write("N");
          return;
        }
        if (code === CANCEL_REQUEST) {
          socket.end();
          return;
        }
        await turns.take(who);
        try {
          await run(message, socket);
        } finally {
          turns.release(who);
        }
        started = true;
        return;
      }
      const type = message[0];
      if (type === 0x58 /* Terminate */) {
        gone = true;
        await leave(who);
        socket.end();
        return;
      }
      await turns.take(who);
      if (gone) return;
      await run(message, socket);
      const endsExchange = type === 0x53 /* Sync */ || type === 0x51; /* Query */
      if (endsExchange && !pglite.isInTransaction()) turns.release(who);
    };

    // Until the startup message, messages have no type byte (length + body); after it, type + length + body.
    let framedStartup = false;
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const header = framedStartup ? 1 : 0;
        if (buffered.length < header + 4) break;
        const length = header + buffered.readInt32BE(header);
        if (buffered.length < length) break;
        const message = buffered.subarray(0, length);
        buffered = buffered.subarray(length);
        if (!framedStartup) {
          const code = message.length >= 8 ? message.readInt32BE(4) : 0;
          framedStartup = code !== SSL_REQUEST && code !== GSSENC_REQUEST && code !== CANCEL_REQUEST;
        }
        chain = chain
          .then(() => handle(message))
          .catch(() => {
            socket.destroy();
          });
      }
    });
    const onGone = () => {
      sockets.delete(socket);
      if (gone) return;
      gone = true;
      chain = chain.then(() => leave(who)).catch(() => undefined);
    };
    socket.on("close", onGone);
    socket.on("error", onGone);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address !== "object") throw new Error("PGlite server has no address");
  return {
    port: address.port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
