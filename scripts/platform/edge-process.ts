// The edge as a child process of the platform: `wrangler dev` (workerd) under orphan-guard.mjs, or the same Worker
// under Miniflare (miniflare-edge.ts), with the database and this machine's secrets as its vars.
import path from "node:path";
import type { PlatformPorts } from "./platform.ts";
import { type Child, LOOPBACK, REPO_ROOT, type SpawnOptions, spawnChild, spawnTs } from "./processes.ts";
import { LOCAL_NODE_ID, type LocalSecrets, localKekVars } from "./secrets.ts";

type EdgeStart = Parameters<typeof startEdge>[0];

/** The Worker's vars: where the database is, and the secrets of this machine. */
function edgeVars(o: EdgeStart): Record<string, string> {
  const vars: Record<string, string> = {
    DATABASE_URL: o.databaseUrl,
    DB_WS_PROXY: o.proxy,
    TWILIO_AUTH_TOKEN: o.twilioToken,
    CALL_TOKEN_PRIVATE_KEY: o.secrets.callToken.privateKey,
    CALL_TOKEN_KID: o.secrets.callToken.kid,
    MEDIA_NODE_SECRETS: JSON.stringify({ [LOCAL_NODE_ID]: o.secrets.nodeSecret }),
    ...localKekVars(o.secrets),
  };
  // The media node's Bedrock settings: the edge runs post-call analyses against the same Bedrock.
  const bedrock = o.analysisBedrock;
  if (bedrock.BEDROCK_ENDPOINT) vars.BEDROCK_ENDPOINT = bedrock.BEDROCK_ENDPOINT;
  if (bedrock.AWS_REGION) vars.BEDROCK_REGION = bedrock.AWS_REGION;
  for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] as const) {
    const v = bedrock[name];
    if (v) vars[name] = v;
  }
  return vars;
}

export function startEdge(o: {
  ports: PlatformPorts;
  dataDir: string;
  databaseUrl: string;
  proxy: string;
  secrets: LocalSecrets;
  twilioToken: string;
  inspectorPort: number | undefined;
  analysisBedrock: Record<string, string>;
  spawn: SpawnOptions;
}): Child {
  const vars = edgeVars(o);
  // The wrangler script itself, not `npx wrangler`: no npm wrapper between us and the signals. wrangler and its
  // workerd do not watch their parent, so orphan-guard.mjs (a few lines of plain Node) does it for them.
  return spawnChild(
    "edge",
    process.execPath,
    [
      path.join(REPO_ROOT, "scripts/platform/orphan-guard.mjs"),
      path.join(REPO_ROOT, "node_modules/wrangler/bin/wrangler.js"),
      "dev",
      "--ip",
      LOOPBACK,
      "--port",
      String(o.ports.edge),
      "--show-interactive-dev-session=false",
      "--persist-to",
      path.join(o.dataDir, "edge-state"),
      ...(o.inspectorPort ? ["--inspector-port", String(o.inspectorPort)] : []),
      ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ],
    {
      ...o.spawn,
      env: {
        ...o.spawn.env,
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        WRANGLER_SEND_METRICS: "false",
        WRANGLER_LOG_PATH: path.join(o.spawn.logDir, "wrangler"),
      },
    },
  );
}

export function startMiniflareEdge(o: EdgeStart): Child {
  const vars = edgeVars(o);
  return spawnTs("edge", "scripts/platform/miniflare-edge.ts", {
    ...o.spawn,
    env: {
      ...o.spawn.env,
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      WRANGLER_SEND_METRICS: "false",
      EDGE_PORT: String(o.ports.edge),
      EDGE_VARS: JSON.stringify(vars),
      EDGE_PERSIST_TO: path.join(o.dataDir, "edge-state-miniflare"),
      ...(o.inspectorPort ? { EDGE_INSPECTOR_PORT: String(o.inspectorPort) } : {}),
    },
  });
}
