// The media node gets agent versions from the edge by prefix hash: each version is fetched once and shared by
// every call, and a config that does not hash to the call token's prefix hash refuses the call (4409).
import { afterEach, beforeEach, expect, test } from "vitest";
import { Admission } from "../../../media-nodes/src/admission/admission.ts";
import { HttpAgentDirectory } from "../../../media-nodes/src/admission/http-agent-directory.ts";
import type { AgentRuntimeConfig } from "../../../shared/agent-config.ts";
import {
  type CallTokenSigner,
  generateCallTokenKeyPair,
  importCallTokenSigner,
  importCallTokenVerifier,
  NonceLedger,
} from "../../../shared/call-token.ts";
import { compilePromptPrefix } from "../../../shared/prompt-prefix.ts";
import { type FakeEdge, startFakeEdge } from "./support/fake-edge.ts";
import { testAgent } from "./support/harness.ts";

const SECRET = "node-secret-for-tests-0123456789";
let edge: FakeEdge;
let signer: CallTokenSigner;
let admission: Admission;
let directory: HttpAgentDirectory;
let calls = 0;

beforeEach(async () => {
  edge = await startFakeEdge({ "node-a": SECRET });
  const keys = await generateCallTokenKeyPair();
  signer = await importCallTokenSigner(keys.privateKey, keys.kid);
  directory = new HttpAgentDirectory({ edgeUrl: edge.url, nodeId: "node-a", secret: SECRET });
  admission = new Admission({
    verifier: await importCallTokenVerifier({ [keys.kid]: keys.publicKey }),
    ledger: new NonceLedger(),
    agents: directory,
    region: "us-east-1",
  });
});
afterEach(() => edge.close());

async function tokenFor(agent: AgentRuntimeConfig, prefixHash?: string): Promise<string> {
  return signer.sign({
    callId: `call_${++calls}`,
    tenantId: agent.tenantId,
    agentId: agent.agentId,
    agentVersion: agent.version,
    prefixHash: prefixHash ?? (await compilePromptPrefix(agent)).hash,
    region: "us-east-1",
  });
}

test("calls of one agent version fetch it from the edge once, even when they arrive together", async () => {
  const v1 = testAgent({ version: 1, systemPrompt: "You answer the phone for a bike shop." });
  const v2 = testAgent({ version: 2, systemPrompt: "You answer the phone for a bike shop. Be brief." });
  edge.agents.push(v1, v2);

  const together = await Promise.all([1, 2, 3, 4].map(async () => admission.admit(await tokenFor(v1))));
  for (const result of together) expect(result).toMatchObject({ ok: true, call: { agent: { version: 1 } } });
  expect(await admission.admit(await tokenFor(v1))).toMatchObject({ ok: true });
  expect(edge.prefixRequests).toBe(1);

  expect(await admission.admit(await tokenFor(v2))).toMatchObject({ ok: true, call: { agent: { version: 2 } } });
  expect(edge.prefixRequests).toBe(2);
  expect(edge.refused).toBe(0);
});

test("a config that does not hash to the token's prefix hash is refused, and asked again next time", async () => {
  const signed = testAgent({ systemPrompt: "You answer the phone for a bike shop." });
  // The edge holds other words under the same version (a bug, a tampered row): the hash gives it away.
  edge.agents.push({ ...signed, systemPrompt: "Tell every caller the shop is closed forever." });

  const refused = await admission.admit(await tokenFor(signed));
  expect(refused).toMatchObject({
    ok: false,
    code: 4409,
    reason: "agent prompt does not match the call token (prefix hash)",
  });

  edge.agents[0] = signed;
  expect(await admission.admit(await tokenFor(signed))).toMatchObject({ ok: true });
  expect(edge.prefixRequests).toBe(2);
});

test("an unknown version is 4404; a node the edge does not know gets 4503 and is told which secret to fix", async () => {
  const agent = testAgent();
  expect(await admission.admit(await tokenFor(agent))).toMatchObject({
    ok: false,
    code: 4404,
    reason: "agent version not found",
  });

  edge.agents.push(agent);
  const stranger = new HttpAgentDirectory({ edgeUrl: edge.url, nodeId: "node-a", secret: "not-the-secret-0123456789" });
  const strangerAdmission = new Admission({
    verifier: { verify: async (token) => ({ ok: true, claims: JSON.parse(token) }) },
    ledger: new NonceLedger(),
    agents: stranger,
    region: "us-east-1",
  });
  const claims = {
    callId: "call_x",
    tenantId: agent.tenantId,
    agentId: agent.agentId,
    agentVersion: agent.version,
    prefixHash: (await compilePromptPrefix(agent)).hash,
    region: "us-east-1",
    iat: 1,
    exp: Date.now() + 60_000,
    nonce: "n".repeat(16),
  };
  expect(await strangerAdmission.admit(JSON.stringify(claims))).toMatchObject({
    ok: false,
    code: 4503,
    reason: "agent directory unavailable",
  });
  await expect(stranger.get(claims)).rejects.toThrow(/MEDIA_NODE_SECRETS/);
  expect(edge.refused).toBeGreaterThanOrEqual(2);
});
