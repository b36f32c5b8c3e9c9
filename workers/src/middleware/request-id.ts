import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env.ts";
import { newResourceId } from "../lib/ids.ts";

/**
 * Gives every request an ID (`req_…`), echoed in a response header, in problem bodies and in audit entries,
 * so a tenant's support question can be matched to one request.
 *
 * @example app.use(requestId())
 */
export const requestId = ({
  headerName = "x-request-id",
  generate = () => newResourceId("req"),
}: {
  headerName?: string;
  generate?: () => string;
} = {}): MiddlewareHandler<AppEnv> =>
  async function requestId(c, next) {
    const id = generate();
    c.set("requestId", id);
    await next();
    c.res.headers.set(headerName, id);
  };
