// Tells the workers-types globals about this Worker: `env` from "cloudflare:workers" has our bindings, and
// `exports` (tests: `exports.default.fetch`) has the entry module's exports. Durable Object classes exported from
// index.ts go into `durableNamespaces` when they arrive.
import type { Env as EdgeEnv } from "./env.ts";

declare global {
  namespace Cloudflare {
    interface Env extends EdgeEnv {}
    interface GlobalProps {
      mainModule: typeof import("./index.ts");
    }
  }
}
