// The demo tenant's own backend, as small as a webhook tool can be: `lookup_order` and `get_business_hours`,
// answering the media node's signed tool calls (docs/tools.md) the way a tenant's server would, signature
// checked first. `npm start` runs it so the demo call can show tool use without anything outside this machine.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { verifySignature } from "../../media-nodes/src/tools/signing.ts";
import { LOOPBACK } from "./processes.ts";

const HOURS: Record<string, string> = {
  monday: "9 AM to 6 PM",
  tuesday: "9 AM to 6 PM",
  wednesday: "9 AM to 6 PM",
  thursday: "9 AM to 8 PM",
  friday: "9 AM to 6 PM",
  saturday: "10 AM to 2 PM",
  sunday: "closed",
};

const ToolCallSchema = z.object({
  tool: z.string(),
  toolCallId: z.string(),
  arguments: z.record(z.string(), z.unknown()),
});

export interface DemoTools {
  url: string;
  /** Tool calls answered, for the printer and tests. */
  calls: { tool: string; arguments: Record<string, unknown> }[];
  /** The tenant's tool-signing secret to verify with; until it is set every request is refused. */
  useSecret(secret: string): void;
  close(): Promise<void>;
}

export async function startDemoTools(opts: { port: number }): Promise<DemoTools> {
  const calls: DemoTools["calls"] = [];
  let secret: string | undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const send = (status: number, payload: unknown) =>
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(payload));
      if (!secret) return send(503, { message: "no tool-signing secret yet" });
      const check = verifySignature(
        secret,
        {
          timestamp: req.headers["x-aybiza-timestamp"] as string | undefined,
          signature: req.headers["x-aybiza-signature"] as string | undefined,
        },
        body,
      );
      if (!check.ok) return send(401, { message: `bad signature: ${check.reason}` });
      let call: z.infer<typeof ToolCallSchema>;
      try {
        call = ToolCallSchema.parse(JSON.parse(body));
      } catch {
        return send(400, { message: "not a tool call" });
      }
      calls.push({ tool: call.tool, arguments: call.arguments });
      if (req.url === "/lookup-order") {
        const orderNumber = String(call.arguments.orderNumber ?? "");
        if (!/^\d{4,10}$/.test(orderNumber)) return send(404, { message: "no order with that number" });
        return send(200, { orderNumber, status: "shipped", carrier: "UPS", eta: "Friday" });
      }
      if (req.url === "/business-hours") {
        const day = String(call.arguments.day ?? "").toLowerCase();
        const hours = HOURS[day];
        return send(200, hours ? { [day]: hours } : HOURS);
      }
      send(404, { message: `no tool at ${req.url}` });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, LOOPBACK, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${LOOPBACK}:${port}`,
    useSecret: (value) => {
      secret = value;
    },
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The demo agent: a bike shop's front desk with two webhook tools. */
export function demoAgentConfig(toolsUrl: string) {
  return {
    systemPrompt: [
      "You are the phone receptionist of Acme Bikes, a bicycle shop.",
      "Speak in one or two short sentences; the caller hears you, so no lists or formatting.",
      "Use lookup_order when a caller asks about an order, and get_business_hours for opening hours.",
      "When the caller has what they need, thank them and say goodbye.",
    ].join("\n"),
    firstMessage: "Thanks for calling Acme Bikes! How can I help you today?",
    // After each call: a summary, pass/fail against the shop's own rubric, and what to follow up on.
    analysis: {
      successRubric: 'The call succeeds when every question was answered and the caller said "bye".',
      dataSchema: {
        type: "object",
        properties: {
          order_number: { type: "string", pattern: "^[0-9]{4,10}$" },
          appointment_date: { type: "string" },
          customer_name: { type: "string" },
        },
        additionalProperties: false,
      },
    },
    tools: [
      {
        name: "lookup_order",
        description: "Look up an order by its number: status, carrier and estimated arrival.",
        inputSchema: {
          type: "object",
          properties: { orderNumber: { type: "string", pattern: "^[0-9]{4,10}$" } },
          required: ["orderNumber"],
          additionalProperties: false,
        },
        webhook: { url: `${toolsUrl}/lookup-order`, timeoutMs: 3_000 },
      },
      {
        name: "get_business_hours",
        description: "The shop's opening hours, for one day of the week or the whole week.",
        inputSchema: {
          type: "object",
          properties: {
            day: {
              type: "string",
              enum: ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
            },
          },
          additionalProperties: false,
        },
        webhook: { url: `${toolsUrl}/business-hours`, timeoutMs: 3_000 },
      },
    ],
  };
}
