// The demo tenant, seeded through the real tenant API (sign-up, agent with tools, published, a phone number) and
// remembered in `.data/demo.json`, so a second `npm start` reuses the same account, key and number. If the saved
// key no longer works (the database was reset) the tenant is seeded again. The plan is the one thing the API does
// not let a tenant choose; the local database is ours, so the demo account is moved to the business plan there
// (100 concurrent calls, enough for `npm run call -- --concurrency 50`).

import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { z } from "zod";
import { canonicalJson } from "../../shared/prompt-prefix.ts";
import { hashPassword } from "../../workers/src/console/auth/password.ts";
import { demoAgentConfig } from "./demo-tools.ts";
import { PlatformError } from "./processes.ts";

/** The numbers `npm run call` dials from and to by default (emulators/twilio-caller/cli.ts). */
export const DEMO_NUMBER = "+14155550100";
export const DEMO_CALLER = "+14155550123";
export const DEMO_PLAN = "business";
const DEMO_FILE = "demo.json";

const DEMO_EMAIL_DEFAULT = "demo@acme-bikes.example";
const DemoStateSchema = z.object({
  accountId: z.string(),
  email: z.string().default(DEMO_EMAIL_DEFAULT),
  /** The demo user's console password; made up once per data directory (older demo.json files get one). */
  password: z.string().optional(),
  apiKey: z.string(),
  agentId: z.string(),
  numberId: z.string(),
  number: z.string(),
});
export type DemoTenant = z.infer<typeof DemoStateSchema> & {
  password: string;
  agentName: string;
  publishedVersion: number;
  /** True when the saved tenant was reused rather than created. */
  reused: boolean;
};

const AGENT_NAME = "Acme Bikes front desk";
export const DEMO_EMAIL = "demo@acme-bikes.example";

interface SeedOptions {
  edgeUrl: string;
  dataDir: string;
  /** Postgres the edge uses (to set the demo plan). */
  databaseUrl: string;
  toolsUrl: string;
}

export async function seedDemoTenant(opts: SeedOptions): Promise<DemoTenant> {
  const api = client(opts.edgeUrl);
  const desired = demoAgentConfig(opts.toolsUrl);
  const saved = readState(opts.dataDir);

  if (saved) {
    const agent = await api.call("GET", `/v1/agents/${saved.agentId}`, saved.apiKey);
    if (agent.status === 200) {
      const body = agent.body as { config: Record<string, unknown>; publishedVersion: number | null; version: number };
      let publishedVersion = body.publishedVersion ?? body.version;
      // The tools' URL follows DEMO_TOOLS_PORT, and the demo agent may have changed since: publish what we run.
      if (!sameConfig(body.config, desired) || body.publishedVersion === null) {
        const patched = await api.expect(
          200,
          "PATCH",
          `/v1/agents/${saved.agentId}`,
          saved.apiKey,
          { config: desired, publish: true },
          "update the demo agent",
        );
        publishedVersion = (patched as { version: number }).version;
      }
      const number = await api.call("GET", `/v1/phone-numbers/${saved.numberId}`, saved.apiKey);
      if (number.status === 200 && (number.body as { agentId: string | null }).agentId === saved.agentId) {
        await setPlan(opts.databaseUrl, saved.accountId);
        let password = saved.password;
        if (!password) {
          // A demo tenant from before the console: give its user a password (local database, as with the plan).
          password = newDemoPassword();
          await setPassword(opts.databaseUrl, saved.accountId, saved.email, password);
          writeState(opts.dataDir, { ...saved, password });
        }
        return { ...saved, password, agentName: AGENT_NAME, publishedVersion, reused: true };
      }
    }
    // The key or its resources are gone (a reset database): start over.
  }

  const password = newDemoPassword();
  const signUp = (await api.expect(
    201,
    "POST",
    "/v1/accounts",
    undefined,
    { name: "Acme Bikes (demo)", email: DEMO_EMAIL, jurisdiction: "us", password },
    "sign up the demo account",
  )) as { account: { id: string }; apiKey: { key: string } };
  const accountId = signUp.account.id;
  const apiKey = signUp.apiKey.key;
  await setPlan(opts.databaseUrl, accountId);
  const agent = (await api.expect(
    201,
    "POST",
    "/v1/agents",
    apiKey,
    { name: AGENT_NAME, config: desired, publish: true },
    "create the demo agent",
  )) as { id: string; publishedVersion: number };
  const created = await api.call("POST", "/v1/phone-numbers", apiKey, {
    e164: DEMO_NUMBER,
    provider: "twilio",
    agentId: agent.id,
  });
  if (created.status === 409) {
    throw new PlatformError(
      `the demo number ${DEMO_NUMBER} belongs to an account whose key is not in ${path.join(opts.dataDir, DEMO_FILE)}; delete ${opts.dataDir} to start from a fresh database`,
    );
  }
  if (created.status !== 201) throw api.failure("add the demo phone number", created);
  const state = {
    accountId,
    email: DEMO_EMAIL,
    password,
    apiKey,
    agentId: agent.id,
    numberId: (created.body as { id: string }).id,
    number: DEMO_NUMBER,
  };
  writeState(opts.dataDir, state);
  return { ...state, agentName: AGENT_NAME, publishedVersion: agent.publishedVersion, reused: false };
}

/** Readable, 4 groups of 4 letters and digits: long enough for the 10-character minimum, easy to type. */
function newDemoPassword(): string {
  const alphabet = "abcdefghjkmnpqrstuvwxyz23456789";
  const bytes = randomBytes(16);
  const chars = [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
  return chars.match(/.{4}/g)?.join("-") ?? chars;
}

async function setPassword(databaseUrl: string, accountId: string, email: string, password: string): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query("UPDATE users SET password_hash = $1 WHERE tenant_id = $2 AND lower(email) = lower($3)", [
      await hashPassword(password),
      accountId,
      email,
    ]);
  } finally {
    await db.end();
  }
}

/** Only the fields the demo sets are compared; the API fills in the rest with defaults. */
function sameConfig(current: Record<string, unknown>, desired: Record<string, unknown>): boolean {
  const picked = Object.fromEntries(Object.keys(desired).map((k) => [k, current[k]]));
  return canonicalJson(picked) === canonicalJson(JSON.parse(JSON.stringify(desired)));
}

async function setPlan(databaseUrl: string, accountId: string): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query("UPDATE accounts SET plan = $1 WHERE id = $2 AND plan <> $1", [DEMO_PLAN, accountId]);
  } finally {
    await db.end();
  }
}

function readState(dataDir: string): z.infer<typeof DemoStateSchema> | undefined {
  const file = path.join(dataDir, DEMO_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const parsed = DemoStateSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function writeState(dataDir: string, state: z.infer<typeof DemoStateSchema>): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(path.join(dataDir, DEMO_FILE), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

interface ApiAnswer {
  status: number;
  body: unknown;
}

/** A tiny client for the tenant API; failures become one line with the problem's title and detail. */
export function client(edgeUrl: string) {
  const call = async (method: string, route: string, key?: string, body?: unknown): Promise<ApiAnswer> => {
    const res = await fetch(`${edgeUrl}${route}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON; keep the text for the error message
    }
    return { status: res.status, body: parsed };
  };
  const failure = (what: string, answer: ApiAnswer) => {
    const problem = answer.body as { title?: string; detail?: string } | string;
    const detail =
      typeof problem === "string" ? problem.slice(0, 200) : [problem.title, problem.detail].filter(Boolean).join(": ");
    return new PlatformError(`could not ${what}: HTTP ${answer.status}${detail ? ` (${detail})` : ""}`);
  };
  return {
    call,
    failure,
    async expect(status: number, method: string, route: string, key: string | undefined, body: unknown, what: string) {
      const answer = await call(method, route, key, body);
      if (answer.status !== status) throw failure(what, answer);
      return answer.body;
    },
  };
}

/**
 * A fresh tool-signing secret for the demo tenant (`POST /v1/tool-signing-secret/rotate`): the one value the API shows
 * once, handed to the demo tools server so it verifies the media node's requests as a tenant's server would.
 */
export async function demoToolSigningSecret(edgeUrl: string, apiKey: string): Promise<string> {
  const api = client(edgeUrl);
  const rotated = (await api.expect(
    200,
    "POST",
    "/v1/tool-signing-secret/rotate",
    apiKey,
    undefined,
    "create the demo tenant's tool-signing secret",
  )) as { secret: string };
  return rotated.secret;
}
