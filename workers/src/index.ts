// Entry module of the edge Worker (wrangler.toml `main`). Durable Object classes must be exported from here;
// they live in ./do/ and are re-exported below when they arrive.
import { createApp } from "./app.ts";
import type { Env } from "./env.ts";

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
