import type { MiddlewareHandler } from "hono";
import { bodyLimit as honoBodyLimit } from "hono/body-limit";
import type { AppEnv } from "../env.ts";
import { ProblemError } from "../lib/problem.ts";

export const MAX_BODY_BYTES = 256 * 1024;

/**
 * Rejects request bodies over the limit with a 413 problem before anything parses them. Works whether the
 * client sent Content-Length or a chunked body (then it counts bytes as they arrive).
 *
 * @example app.use("/v1/*", bodyLimit())
 */
export const bodyLimit = ({ maxBytes = MAX_BODY_BYTES }: { maxBytes?: number } = {}): MiddlewareHandler<AppEnv> =>
  honoBodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ProblemError("payload-too-large", `Request bodies are limited to ${Math.floor(maxBytes / 1024)} KB.`);
    },
  });
