// A Worker of a few lines under Miniflare, in a scratch directory, with workerd's inspector open: what the
// workerd memory reproductions (bench/workerd-*.ts) run, so that what they find is workerd's, not our Worker's.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Miniflare, type MiniflareOptions } from "miniflare";
import { freePort } from "../../scripts/platform/processes.ts";

export interface TinyWorker {
  mf: Miniflare;
  url: URL;
  inspectorPort: number;
  /** Scratch directory (Durable Object storage lives under it unless `persist` is false); the caller removes it. */
  dir: string;
}

/** `script` is an ES module with a Durable Object class `Obj` (bound as OBJ, SQLite-backed). */
export async function startTinyWorker(
  script: string,
  { prefix, persist = true, extra = {} }: { prefix: string; persist?: boolean; extra?: Partial<MiniflareOptions> },
): Promise<TinyWorker> {
  const dir = await mkdtemp(path.join(tmpdir(), `aybiza-${prefix}-`));
  const inspectorPort = await freePort();
  const mf = new Miniflare({
    modules: true,
    script,
    compatibilityDate: "2026-04-01",
    durableObjects: { OBJ: { className: "Obj", useSQLite: true } },
    ...(persist
      ? { durableObjectsPersist: path.join(dir, "do"), defaultPersistRoot: dir }
      : { durableObjectsPersist: false }),
    inspectorPort,
    host: "127.0.0.1",
    port: 0,
    ...extra,
  } as MiniflareOptions);
  return { mf, url: await mf.ready, inspectorPort, dir };
}
