// PGlite is one session behind many connections (workers/src/db/pglite-server.ts). Busy connections must each get
// their own answers: when turns were taken per wire message, one connection's Bind landed on another's Parse and
// clients hung or got a stranger's rows — a 500 in the Worker suites' concurrent-request tests that a real
// Postgres, one session per connection, never gives.
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import { openNodeDb, type Served, servePglite } from "../../../workers/src/db/node.ts";

let served: Served;
let closeDb: () => Promise<void>;

beforeAll(async () => {
  const node = await openNodeDb({ url: "", pgliteDir: "memory://" });
  if (!node.pglite) throw new Error("expected PGlite");
  closeDb = node.close;
  await node.pglite.exec("create table turns (id int primary key, who text not null)");
  served = await servePglite(node.pglite);
});

afterAll(async () => {
  await served.stop();
  await closeDb();
});

test("six busy connections, half in transactions, each get their own answers and every commit lands", async () => {
  const clients = await Promise.all(
    Array.from({ length: 6 }, async () => {
      const client = new pg.Client({ connectionString: served.url, query_timeout: 10_000 });
      await client.connect();
      return client;
    }),
  );
  const rounds = 25;
  try {
    const answers = await Promise.all(
      clients.map(async (client, i) => {
        const seen: string[] = [];
        for (let n = 0; n < rounds; n++) {
          if (i % 2 === 0) {
            await client.query("begin");
            await client.query("insert into turns (id, who) values ($1, $2)", [i * 1000 + n, `c${i}`]);
            const { rows } = await client.query("select who from turns where id = $1", [i * 1000 + n]);
            await client.query("commit");
            seen.push(rows[0]?.who);
          } else {
            const { rows } = await client.query("select $1::text as who, $2::int as n", [`c${i}`, n]);
            seen.push(rows[0]?.n === n ? rows[0]?.who : "wrong row");
          }
        }
        return seen;
      }),
    );
    expect(answers).toEqual(clients.map((_, i) => Array(rounds).fill(`c${i}`)));
    const { rows } = await clients[0]!.query("select count(*)::int as n from turns");
    expect(rows[0].n).toBe(3 * rounds);
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
});

test("a connection that leaves inside a transaction gives the session back, its writes rolled back", async () => {
  const leaver = new pg.Client({ connectionString: served.url });
  await leaver.connect();
  await leaver.query("begin");
  await leaver.query("insert into turns (id, who) values ($1, $2)", [99_999, "leaver"]);
  // The newcomer's startup waits for the leaver's turn to end, so it is not awaited before the leaver goes.
  const next = new pg.Client({ connectionString: served.url, query_timeout: 10_000 });
  const connecting = next.connect();
  const waiting = next.query("select count(*)::int as n from turns where id = $1", [99_999]);
  await leaver.end();
  await connecting;
  const { rows } = await waiting;
  expect(rows[0].n).toBe(0);
  await next.end();
});
