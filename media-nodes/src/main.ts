// `npm run media-node`: the media node as a process. Configuration comes from the environment
// (media-nodes/src/config.ts, docs/media-node.md); providers point at the local emulators unless keys
// and endpoints say otherwise. SIGTERM drains: no new calls, live calls finish up to the deadline, the
// rest hear a goodbye; a second SIGTERM (or SIGINT) stops at once. SIGHUP drains like SIGTERM. Started by a
// supervisor (`npm start`), the node also drains and exits once that supervisor is gone.
import { ConfigError, loadConfig, type MediaNodeConfig } from "./config.ts";
import { exitWithParent } from "./server/parent-watch.ts";
import { type RunningMediaNode, runMediaNode } from "./server/run.ts";
import { UwsFallbackError } from "./server/uws.ts";

async function main(): Promise<void> {
  let config: MediaNodeConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`media node: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  // Signal handlers go in before anything is printed: a supervisor may signal as soon as it sees output.
  let node: RunningMediaNode | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping || !node) {
      process.stderr.write(`media node: ${signal}; stopping now\n`);
      await node?.close();
      process.exit(node ? 1 : 0);
    }
    stopping = true;
    const result = await node.drain(config.drainDeadlineMs);
    process.stdout.write(
      `media node drained: ${result.finished} finished, ${result.endedAtDeadline} ended at the deadline (${result.ms} ms)\n`,
    );
    await node.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGHUP", () => void stop("SIGHUP"));
  exitWithParent();

  try {
    node = await runMediaNode(config);
  } catch (err) {
    if (err instanceof UwsFallbackError) {
      process.stderr.write(`media node: ${err.message}\n`);
      process.exit(3);
    }
    process.stderr.write(`media node: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  process.stdout.write(`media node listening on ${node.url} (region ${config.region})\n`);
  // Supervisors (npm start) wait for this line before routing calls here.
  void node.heartbeat?.registered.then(() =>
    process.stdout.write(`media node registered with the edge at ${config.edge?.url} as ${config.nodeId}\n`),
  );
}

void main();
