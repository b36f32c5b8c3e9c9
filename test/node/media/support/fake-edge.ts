// The edge's media-node endpoints as a test needs them: node-signed requests checked with the real verifier,
// agent versions served by prefix hash, heartbeats recorded. Answers like workers/src/media/routes.ts.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { AgentRuntimeConfig } from "../../../../shared/agent-config.ts";
import type { CallCheckpoint } from "../../../../shared/call-checkpoint.ts";
import { verifyNodeRequest } from "../../../../shared/media-node-auth.ts";
import { compilePromptPrefix } from "../../../../shared/prompt-prefix.ts";

export interface ReceivedBeat {
  nodeId: string;
  body: Record<string, unknown>;
}

export interface FakeEdge {
  url: string;
  /** Versions served; a test may swap the config behind a version to simulate a bad edge. */
  agents: AgentRuntimeConfig[];
  beats: ReceivedBeat[];
  prefixRequests: number;
  /**
   * Calls moved to a node (as the CallLedger's reroute does): callId → the node, the resume token's nonce and the
   * checkpoint it may claim once. `claims` counts the claims answered 200.
   */
  resumes: Map<string, { nodeId: string; nonce: string; checkpoint: CallCheckpoint; claimed: boolean }>;
  claims: number;
  /** Requests refused for a bad or missing signature. */
  refused: number;
  close(): Promise<void>;
}

export async function startFakeEdge(secrets: Record<string, string>): Promise<FakeEdge> {
  const edge: Omit<FakeEdge, "url" | "close"> = {
    agents: [],
    beats: [],
    prefixRequests: 0,
    resumes: new Map(),
    claims: 0,
    refused: 0,
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const send = (status: number, payload: unknown) =>
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(payload));
      const url = new URL(req.url ?? "/", "http://edge.test");
      const verdict = await verifyNodeRequest({
        secrets,
        headers: { get: (name) => (req.headers[name] as string | undefined) ?? null },
        method: req.method ?? "GET",
        url: url.toString(),
        body,
      });
      if (!verdict.ok) {
        edge.refused += 1;
        return send(401, { detail: `Media node authentication failed (${verdict.reason}).` });
      }
      if (req.method === "POST" && url.pathname === "/v1/media-nodes/heartbeat") {
        edge.beats.push({ nodeId: verdict.nodeId, body: JSON.parse(body) });
        return send(200, { accepted: true });
      }
      const prefix = /^\/v1\/media\/prefixes\/([0-9a-f]{64})$/.exec(url.pathname);
      if (req.method === "GET" && prefix) {
        edge.prefixRequests += 1;
        const q = url.searchParams;
        const agent = edge.agents.find(
          (a) =>
            a.tenantId === q.get("tenant") && a.agentId === q.get("agent") && a.version === Number(q.get("version")),
        );
        if (!agent) return send(404, { detail: "No such agent version." });
        const compiled = await compilePromptPrefix(agent);
        return send(200, { prefix: { ...compiled, hash: prefix[1] }, agent });
      }
      const resume = /^\/v1\/calls\/([^/]+)\/resume$/.exec(url.pathname);
      if (req.method === "POST" && resume) {
        const entry = edge.resumes.get(decodeURIComponent(resume[1] ?? ""));
        const claim = JSON.parse(body) as { nonce?: string; resume?: number };
        if (!entry) return send(404, { detail: "No call." });
        if (entry.nodeId !== verdict.nodeId) return send(403, { detail: "Call was not routed to this media node." });
        if (entry.nonce !== claim.nonce) return send(409, { detail: "Not the call's current resume token." });
        if (entry.claimed) return send(409, { detail: "This resume was already claimed." });
        entry.claimed = true;
        edge.claims += 1;
        return send(200, entry.checkpoint);
      }
      send(404, { detail: "no route" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(edge, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
