// The edge Worker under Miniflare's API as a process of its own, the alternative to `wrangler dev` that `npm run
// soak -- --edge miniflare` uses to tell apart what workerd holds for our Worker from what wrangler dev's own
// proxy Worker holds. Settings from the environment: EDGE_PORT, EDGE_VARS (JSON of the Worker's vars),
// EDGE_PERSIST_TO (Durable Object state), EDGE_INSPECTOR_PORT. Prints "Ready on URL"; SIGINT/SIGTERM dispose.
import { z } from "zod";
import { exitWithParent } from "../../emulators/parent-watch.ts";
import { startLocalWorker } from "../local-edge.ts";

const Env = z.object({
  EDGE_PORT: z.coerce.number().int().min(0).max(65_535),
  EDGE_VARS: z.string().transform((s) => z.record(z.string(), z.string()).parse(JSON.parse(s))),
  EDGE_PERSIST_TO: z.string().optional(),
  EDGE_INSPECTOR_PORT: z.coerce.number().int().positive().optional(),
});
const env = Env.parse(process.env);
const worker = await startLocalWorker({
  port: env.EDGE_PORT,
  vars: env.EDGE_VARS,
  logLevel: "warn",
  ...(env.EDGE_PERSIST_TO ? { persistTo: env.EDGE_PERSIST_TO } : {}),
  ...(env.EDGE_INSPECTOR_PORT ? { inspectorPort: env.EDGE_INSPECTOR_PORT } : {}),
});
process.stdout.write(`Ready on ${worker.url}\n`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void worker.stop().finally(() => process.exit(0));
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
process.on("SIGHUP", stop);
exitWithParent();
