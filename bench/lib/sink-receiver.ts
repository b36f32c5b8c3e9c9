// Stands where the edge's CallLedger endpoint would be, so a media node in another process can hand the
// benchmark every turn's latency waterfall (the same events it sends the edge). It records turns and
// answers 200; it does not check the node's signature (loopback only, benchmark use only).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { z } from "zod";

const TurnEvent = z.object({
  type: z.literal("turn"),
  callId: z.string(),
  index: z.number(),
  interrupted: z.boolean(),
  waterfall: z
    .object({
      sttMs: z.number().optional(),
      llmFirstTokenMs: z.number().optional(),
      ttsFirstByteMs: z.number().optional(),
      firstAudioMs: z.number().optional(),
      platformOverheadMs: z.number().optional(),
      firstAudioSource: z.string().optional(),
      turnDetectionMs: z.number().optional(),
      firstClauseMs: z.number().optional(),
      speculative: z.boolean().optional(),
      speculativeStarts: z.number().optional(),
      speculativeWasted: z.number().optional(),
    })
    .passthrough(),
});
export type ReceivedTurn = z.infer<typeof TurnEvent>;

export interface SinkReceiver {
  url: string;
  turns(): ReceivedTurn[];
  clear(): void;
  close(): Promise<void>;
}

export async function startSinkReceiver(): Promise<SinkReceiver> {
  const turns: ReceivedTurn[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= 1024 * 1024) chunks.push(c);
    });
    req.on("end", () => {
      try {
        const parsed = TurnEvent.safeParse(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        if (parsed.success) turns.push(parsed.data);
      } catch {
        // Not JSON: not ours to judge; the node only needs an answer.
      }
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    turns: () => [...turns],
    clear: () => {
      turns.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
