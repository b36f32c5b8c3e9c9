// A node admitted with a resume token (a call moved here after its node was lost) gets the call's checkpoint from the
// edge and exposes it on the admitted call; the claim is single-use, so the same token on this node or another one
// admits nothing, and a checkpoint that does not match the token is refused.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Admission } from "../../../media-nodes/src/admission/admission.ts";
import { InMemoryAgentDirectory } from "../../../media-nodes/src/admission/agent-directory.ts";
import { HttpCheckpointSource } from "../../../media-nodes/src/admission/http-checkpoint-source.ts";
import { CloseCode } from "../../../media-nodes/src/server/close-codes.ts";
import { agentTextHeard, callerTurnFinal, HeardText } from "../../../media-nodes/src/session-sink/checkpoints.ts";
import type { CallCheckpoint } from "../../../shared/call-checkpoint.ts";
import {
  type CallTokenSigner,
  generateCallTokenKeyPair,
  importCallTokenSigner,
  importCallTokenVerifier,
  NonceLedger,
} from "../../../shared/call-token.ts";
import { compilePromptPrefix } from "../../../shared/prompt-prefix.ts";
import { SessionEventSchema } from "../../../shared/session-events.ts";
import { type FakeEdge, startFakeEdge } from "./support/fake-edge.ts";
import { testAgent } from "./support/harness.ts";

const SECRETS = { "node-a": "node-a-secret-0123456789abcdef", "node-b": "node-b-secret-0123456789abcdef" };
const agent = testAgent({ version: 3, systemPrompt: "You answer the phone for a dentist." });
let edge: FakeEdge;
let signer: CallTokenSigner;
let verifierKeys: Record<string, string>;
let prefixHash: string;

async function admissionFor(nodeId: keyof typeof SECRETS, checkpoints = true): Promise<Admission> {
  return new Admission({
    verifier: await importCallTokenVerifier(verifierKeys),
    ledger: new NonceLedger(),
    agents: new InMemoryAgentDirectory([agent]),
    region: "us-east-1",
    ...(checkpoints
      ? { checkpoints: new HttpCheckpointSource({ baseUrl: `${edge.url}/v1`, nodeId, secret: SECRETS[nodeId] }) }
      : {}),
  });
}

function checkpointFor(callId: string): CallCheckpoint {
  return {
    callId,
    tenantId: agent.tenantId,
    agentId: agent.agentId,
    agentVersion: agent.version,
    prefixHash,
    resume: 1,
    history: [
      { index: 0, role: "assistant", text: "Good morning, dental office.", interrupted: false },
      { index: 1, role: "user", text: "I need to move my appointment.", interrupted: false },
      { index: 1, role: "assistant", text: "Of course. Which day suits you?", interrupted: false },
    ],
    entities: { name: "Ana" },
    inProgress: { index: 2, callerText: "Thursday afternoon.", agentHeard: "Thursday at three is" },
    nextTurnIndex: 3,
  };
}

/** A resume token as the edge mints it, and the edge's record of the move to `nodeId`. */
async function movedCall(nodeId: string, callId = `call_${Math.random().toString(36).slice(2, 12)}`) {
  const token = await signer.sign({
    callId,
    tenantId: agent.tenantId,
    agentId: agent.agentId,
    agentVersion: agent.version,
    prefixHash,
    region: "us-east-1",
    carrierCallId: "CA00000000000000000000000000000042",
    resume: 1,
  });
  const nonce = JSON.parse(Buffer.from(token.split(".")[2] ?? "", "base64url").toString()).nonce as string;
  edge.resumes.set(callId, { nodeId, nonce, checkpoint: checkpointFor(callId), claimed: false });
  return { token, callId };
}

const stream = { callRef: "CA00000000000000000000000000000042" };

beforeEach(async () => {
  edge = await startFakeEdge(SECRETS);
  const keys = await generateCallTokenKeyPair();
  signer = await importCallTokenSigner(keys.privateKey, keys.kid);
  verifierKeys = { [keys.kid]: keys.publicKey };
  prefixHash = (await compilePromptPrefix(agent)).hash;
});
afterEach(() => edge.close());

describe("admitting a resume token", () => {
  it("exposes the call's checkpoint on the admitted call", async () => {
    const { token, callId } = await movedCall("node-b");
    const admitted = await (await admissionFor("node-b")).admit(token, stream);
    if (!admitted.ok) throw new Error(admitted.reason);
    expect(admitted.call.claims.resume).toBe(1);
    expect(admitted.call.resume).toEqual(checkpointFor(callId));
  });

  it("is single-use: the same token admits nothing on this node or another one", async () => {
    const { token } = await movedCall("node-b");
    const nodeB = await admissionFor("node-b");
    expect(await nodeB.admit(token, stream)).toMatchObject({ ok: true });
    // On this node the nonce is spent; on a fresh process (or another node) the edge refuses the second claim.
    expect(await nodeB.admit(token, stream)).toMatchObject({
      ok: false,
      code: CloseCode.unauthorized,
      kind: "replayed",
    });
    expect(await (await admissionFor("node-b")).admit(token, stream)).toMatchObject({
      ok: false,
      code: CloseCode.conflict,
      kind: "resume-refused",
    });
    expect(await (await admissionFor("node-a")).admit(token, stream)).toMatchObject({
      ok: false,
      kind: "resume-refused",
    });
    expect(edge.claims).toBe(1);
  });

  it("refuses a checkpoint for another agent version, and a call when the edge cannot be reached", async () => {
    const { token, callId } = await movedCall("node-b");
    const entry = edge.resumes.get(callId);
    if (entry) entry.checkpoint = { ...entry.checkpoint, agentVersion: 2 };
    expect(await (await admissionFor("node-b")).admit(token, stream)).toMatchObject({
      ok: false,
      code: CloseCode.conflict,
      kind: "resume-mismatch",
    });

    const second = await movedCall("node-b");
    await edge.close();
    expect(await (await admissionFor("node-b")).admit(second.token, stream)).toMatchObject({
      ok: false,
      code: CloseCode.unavailable,
      kind: "resume-unavailable",
    });
    edge = await startFakeEdge(SECRETS);
  });

  it("starts a new conversation on a node with no edge to claim the checkpoint from", async () => {
    const { token } = await movedCall("node-b");
    const admitted = await (await admissionFor("node-b", false)).admit(token, stream);
    expect(admitted).toMatchObject({ ok: true, call: { claims: { resume: 1 } } });
    if (admitted.ok) expect(admitted.call.resume).toBeUndefined();
    expect(edge.claims).toBe(0);
  });

  it("leaves an ordinary token alone (no checkpoint asked for)", async () => {
    const token = await signer.sign({
      callId: "call_plain",
      tenantId: agent.tenantId,
      agentId: agent.agentId,
      agentVersion: agent.version,
      prefixHash,
      region: "us-east-1",
    });
    const admitted = await (await admissionFor("node-b")).admit(token);
    expect(admitted).toMatchObject({ ok: true });
    if (admitted.ok) expect(admitted.call.resume).toBeUndefined();
    expect(edge.claims).toBe(0);
  });
});

describe("the checkpoint events a session publishes", () => {
  it("are events the edge accepts, and marks turn into the text heard so far", () => {
    const heard = new HeardText();
    heard.sent("m1", 2, "Thursday at three");
    heard.sent("m2", 2, "Thursday at three is free.");
    heard.sent("m3", 2, "Thursday at three is free. Shall I book it?");
    expect(heard.played("m2")).toEqual({ index: 2, text: "Thursday at three is free." });
    expect(heard.played("m1")).toBeUndefined();
    heard.cleared();
    expect(heard.played("m3")).toBeUndefined();

    const events = [
      callerTurnFinal({ callId: "call_x", index: 2, text: "Thursday afternoon.", entities: { name: "Ana" } }),
      agentTextHeard({ callId: "call_x", index: 2, text: "Thursday at three is free.", mark: "m2" }),
    ];
    for (const [seq, event] of events.entries()) expect(SessionEventSchema.parse({ ...event, seq })).toBeTruthy();
  });
});
