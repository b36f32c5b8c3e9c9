// The edge Worker's HTTP app: the tenant REST API under /v1, its OpenAPI document and reference page, the
// carriers' webhooks (/v1/telephony/*) and what media nodes call (/v1/media-nodes/*, /v1/media/*, call events).
import { type Hook, OpenAPIHono } from "@hono/zod-openapi";
import { accountsApi } from "./api/accounts/routes.ts";
import { agentsApi } from "./api/agents/routes.ts";
import { apiKeysApi } from "./api/api-keys/routes.ts";
import { callControlApi, liveRoutes } from "./api/call-control/routes.ts";
import { callsApi } from "./api/calls/routes.ts";
import { consentApi } from "./api/consent/routes.ts";
import { renderReference } from "./api/docs/render.ts";
import { healthRoutes } from "./api/health/routes.ts";
import { phoneNumbersApi } from "./api/phone-numbers/routes.ts";
import { secretsApi } from "./api/secrets/routes.ts";
import { sessionsApi } from "./api/sessions/routes.ts";
import { usageApi } from "./api/usage/routes.ts";
import { usersApi } from "./api/users/routes.ts";
import { verifyApi } from "./api/verify/routes.ts";
import { webCallPreflight } from "./api/web-calls/publishable-key-auth.ts";
import { webCallsApi } from "./api/web-calls/routes.ts";
import { webhookEndpointsApi } from "./api/webhook-endpoints/routes.ts";
import { consoleRoutes } from "./console/routes.ts";
import type { AppEnv } from "./env.ts";
import { registerEventWebhooks } from "./events/openapi.ts";
import { errorResponse } from "./lib/errors.ts";
import { type FieldError, fieldErrors, ProblemError } from "./lib/problem.ts";
import { mediaRoutes } from "./media/routes.ts";
import { bodyLimit } from "./middleware/body-limit.ts";
import { database } from "./middleware/database.ts";
import { requestId } from "./middleware/request-id.ts";
import { telnyxRoutes } from "./telephony/telnyx-routes.ts";
import { twilioRoutes } from "./telephony/twilio-routes.ts";

export const OPENAPI_PATH = "/v1/openapi.json";
export const DOCS_PATH = "/v1/docs";

const LOCATIONS: Record<string, FieldError["location"]> = {
  json: "body",
  form: "body",
  query: "query",
  param: "path",
  header: "header",
  cookie: "header",
};

/** Every zod validation failure (body, query, path, header) becomes one 400 problem listing each bad field. */
const validationHook: Hook<unknown, AppEnv, string, undefined> = (result) => {
  if (result.success) return;
  const location = LOCATIONS[result.target] ?? "body";
  throw new ProblemError("validation-error", `The request ${location} is not valid.`, {
    errors: fieldErrors(result.error, location),
  });
};

const DOCUMENT = {
  openapi: "3.1.0",
  info: {
    title: "AYBIZA API",
    version: "1.0.0",
    description: "Tenant API of the AYBIZA voice-agent platform: agents, phone numbers, calls, consent, API keys.",
  },
  servers: [{ url: "/" }],
};

/** The request's ExecutionContext, when it has one (hono throws on access otherwise, e.g. in app.request()). */
function executionContextOf(c: { executionCtx: ExecutionContext }): ExecutionContext | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}

export function createApp() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.use("*", requestId());

  // The document and its page need no database; they are registered before the database middleware, so a
  // response from them ends the chain before it (hono runs handlers in registration order).
  let reference: string | undefined;
  app.doc31(OPENAPI_PATH, DOCUMENT);
  app.get(DOCS_PATH, (c) => {
    reference ??= renderReference(JSON.parse(JSON.stringify(app.getOpenAPI31Document(DOCUMENT))));
    return c.html(reference);
  });
  app.get("/", (c) => c.json({ name: "aybiza-edge", docs: DOCS_PATH, openapi: OPENAPI_PATH, console: "/console" }));
  // The console: pages rendered from the API's own answers (it calls this app, never the database).
  app.route(
    "/console",
    consoleRoutes((request, c) => app.fetch(request, c.env, executionContextOf(c))),
  );
  app.route("/v1", healthRoutes);

  app.use("/v1/*", bodyLimit());
  app.use("/v1/*", database());

  app.route("/v1", accountsApi);
  app.route("/v1", apiKeysApi);
  app.route("/v1", agentsApi);
  app.route("/v1", phoneNumbersApi);
  app.route("/v1", callsApi);
  app.route("/v1", callControlApi);
  app.route("/v1", liveRoutes);
  app.route("/v1", consentApi);
  app.route("/v1", verifyApi);
  app.route("/v1", usageApi);
  app.route("/v1", sessionsApi);
  app.route("/v1", usersApi);
  app.options("/v1/web-calls", webCallPreflight);
  app.route("/v1", webCallsApi);
  app.route("/v1", webhookEndpointsApi);
  app.route("/v1", secretsApi);
  // Not tenant API (not in the OpenAPI document): carrier webhooks, signed by the carrier, and media-node calls,
  // signed per node.
  app.route("/v1", twilioRoutes);
  app.route("/v1", telnyxRoutes);
  app.route("/v1", mediaRoutes);

  registerEventWebhooks(app);
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "An API key: `Authorization: Bearer sk_…`. Operations list the scope they need.",
  });

  app.openAPIRegistry.registerComponent("securitySchemes", "sessionCookie", {
    type: "apiKey",
    in: "cookie",
    name: "aybiza_session",
    description:
      "A console session (POST /v1/sessions). With it, every operation accepts the user's role's scopes; writes also " +
      "need `x-csrf-token` (GET /v1/sessions/current) and no foreign Origin.",
  });

  app.notFound((c) => errorResponse(new ProblemError("not-found", `No route ${c.req.method} ${c.req.path}.`), c));
  app.onError((err, c) => errorResponse(err, c));
  return app;
}
