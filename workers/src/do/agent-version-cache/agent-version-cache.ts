// One AgentVersionCache per published agent version (named `tenant/agent/version`): the version's row, so a media
// node can fetch the prompt prefix and runtime config of a call it was just given while Postgres is unreachable
// (media/routes.ts, GET /v1/media/prefixes/{hash}). Versions are immutable, so an entry never goes stale; it is
// written whenever the route cache learns of a published version (telephony/route-lookup.ts), in the tenant's
// jurisdiction, because it holds the agent's prompt.
import { Server } from "partyserver";
import type { CallControlEnv } from "../../call-control-env.ts";
import type { AgentVersionRow } from "../../prefix/runtime-config.ts";

export class AgentVersionCache extends Server<CallControlEnv> {
  async read(): Promise<AgentVersionRow | undefined> {
    return this.ctx.storage.kv.get<AgentVersionRow>("version");
  }

  /** Stores the row once; a version never changes, so later writes are no-ops. */
  async store(row: AgentVersionRow): Promise<void> {
    if (this.ctx.storage.kv.get("version") === undefined) this.ctx.storage.kv.put("version", row);
  }
}
