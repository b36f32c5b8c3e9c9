// The scheduled key maintenance: on every database, re-wrap data keys still under an older KEK, finish data-key
// rotations that stopped half-way, and rotate data keys older than DATA_KEY_MAX_AGE_DAYS (default 90). Idempotent; a run that fails is simply done again by the next one.
import { openDb } from "../db/client.ts";
import { allDatabases, type ResidencyBindings } from "../residency/residency.ts";
import { keyringFrom, type SecretsBindings } from "./config.ts";
import { keyMaintenance } from "./rotation.ts";

export async function runKeyMaintenance(
  env: SecretsBindings & ResidencyBindings & { DB_WS_PROXY?: string | undefined },
): Promise<void> {
  if (!env.SECRETS_KEK) return;
  const ring = keyringFrom(env);
  for (const { url } of allDatabases(env)) {
    const { db, close } = openDb({ DATABASE_URL: url, DB_WS_PROXY: env.DB_WS_PROXY });
    try {
      const done = await keyMaintenance(db, ring, { dataKeyMaxAgeDays: Number(env.DATA_KEY_MAX_AGE_DAYS) || 90 });
      if (done.rewrap.rewrapped + done.rotations.reencrypted + done.aged.rotated > 0)
        console.log("key maintenance", done);
    } catch (error) {
      console.warn("key maintenance failed; the next run tries again", { error: String(error) });
    } finally {
      await close().catch(() => undefined);
    }
  }
}
