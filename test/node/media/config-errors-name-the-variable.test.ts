// Configuration is validated once at startup; a bad value stops the node with one line naming the
// variable, and the process exits non-zero before listening.
import { spawn } from "node:child_process";
import { expect, test } from "vitest";
import { ConfigError, loadConfig } from "../../../media-nodes/src/config.ts";
import { generateCallTokenKeyPair } from "../../../shared/call-token.ts";

const KEY = `kid1:${"A".repeat(43)}`;

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("config was accepted");
}

test("defaults point at the local emulators and the standard port", () => {
  const config = loadConfig({ CALL_TOKEN_PUBLIC_KEYS: KEY });
  expect(config.port).toBe(8080);
  expect(config.deepgram).toMatchObject({ url: "http://127.0.0.1:8091", emulated: true });
  expect(config.bedrock).toMatchObject({ endpoint: "http://127.0.0.1:8092", emulated: true, region: "us-east-1" });
  expect(config.callTokenPublicKeys).toEqual({ kid1: "A".repeat(43) });

  const real = loadConfig({ CALL_TOKEN_PUBLIC_KEYS: KEY, DEEPGRAM_API_KEY: "dg-key", AWS_ACCESS_KEY_ID: "AKIA" });
  expect(real.deepgram).toMatchObject({ url: "https://api.deepgram.com", emulated: false });
  expect(real.bedrock).toMatchObject({ endpoint: undefined, emulated: false });
});

test("each bad value is one line that names its variable", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{}, /^CALL_TOKEN_PUBLIC_KEYS is required/],
    [{ CALL_TOKEN_PUBLIC_KEYS: "no-colon" }, /^CALL_TOKEN_PUBLIC_KEYS entry "no-colon" is not kid:key/],
    [{ CALL_TOKEN_PUBLIC_KEYS: `${KEY},${KEY}` }, /^CALL_TOKEN_PUBLIC_KEYS key id "kid1" appears twice/],
    [{ CALL_TOKEN_PUBLIC_KEYS: KEY, MEDIA_PORT: "80a" }, /^MEDIA_PORT must be a whole number, got "80a"/],
    [{ CALL_TOKEN_PUBLIC_KEYS: KEY, MEDIA_PORT: "70000" }, /^MEDIA_PORT must be between 0 and 65535, got 70000/],
    [{ CALL_TOKEN_PUBLIC_KEYS: KEY, DEEPGRAM_URL: "ftp://x" }, /^DEEPGRAM_URL must be an http\(s\) or ws\(s\) URL/],
    [{ CALL_TOKEN_PUBLIC_KEYS: KEY, AWS_REGION: "mars" }, /^AWS_REGION must be an AWS region/],
    [{ CALL_TOKEN_PUBLIC_KEYS: KEY, MEDIA_NODE_SECRET: "short" }, /^MEDIA_NODE_SECRET must be at least 16/],
    [{ CALL_TOKEN_PUBLIC_KEYS: KEY, MEDIA_ALLOW_UWS_FALLBACK: "yes" }, /^MEDIA_ALLOW_UWS_FALLBACK /],
    [{ CALL_TOKEN_PUBLIC_KEYS: KEY, SESSION_SINK_URL: "https://edge.example" }, /^MEDIA_NODE_SECRET is required/],
  ];
  for (const [env, pattern] of cases) {
    const message = errorOf(env);
    expect(message, JSON.stringify(env)).toMatch(pattern);
    expect(message).not.toContain("\n");
  }
  // Secrets are never echoed back.
  expect(errorOf({ CALL_TOKEN_PUBLIC_KEYS: KEY, MEDIA_NODE_SECRET: "hunter2" })).not.toContain("hunter2");
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `npm run media-node`'s entry point with the given environment. */
function runMain(env: Record<string, string>, opts: { untilStdout?: RegExp; signal?: "SIGTERM" } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "media-nodes/src/main.ts"], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", MEDIA_LOG_LEVEL: "silent", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const killer = setTimeout(() => child.kill("SIGKILL"), 25_000);
    child.stdout.on("data", (d) => {
      stdout += d;
      if (opts.untilStdout?.test(stdout) && opts.signal) child.kill(opts.signal);
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("exit", (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

test("the process exits with the message when the configuration is bad", async () => {
  const run = await runMain({ CALL_TOKEN_PUBLIC_KEYS: KEY, MEDIA_PORT: "eighty" });
  expect(run.code).toBe(2);
  expect(run.stderr.trim()).toBe('media node: configuration error: MEDIA_PORT must be a whole number, got "eighty"');
  expect(run.stdout).not.toContain("listening");
});

test("the node refuses to run on the uWebSockets.js JavaScript fallback unless allowed", async () => {
  const keys = await generateCallTokenKeyPair();
  const env = { CALL_TOKEN_PUBLIC_KEYS: `${keys.kid}:${keys.publicKey}`, MEDIA_PORT: "0", UWS_USE_FALLBACK: "1" };
  const refused = await runMain(env);
  expect(refused.code).toBe(3);
  expect(refused.stderr).toContain("uWebSockets.js loaded its slow JavaScript fallback instead of the native build");
  expect(refused.stderr).toContain("MEDIA_ALLOW_UWS_FALLBACK=1");
  expect(refused.stdout).not.toContain("listening");

  // Explicitly allowed: it starts (degraded), and SIGTERM drains and exits cleanly.
  const allowed = await runMain(
    { ...env, MEDIA_ALLOW_UWS_FALLBACK: "1" },
    { untilStdout: /listening on/, signal: "SIGTERM" },
  );
  expect(allowed.stdout).toMatch(/media node listening on http:\/\/127\.0\.0\.1:\d+/);
  expect(allowed.stdout).toContain("media node drained: 0 finished, 0 ended at the deadline");
  expect(allowed.code).toBe(0);
}, 60_000);
