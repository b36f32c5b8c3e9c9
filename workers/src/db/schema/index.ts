// Every table of the data model, by feature.

export * from "./access.ts";
export * from "./accounts.ts";
export * from "./agents.ts";
export * from "./audit.ts";
export * from "./calls.ts";
export { JURISDICTIONS, type Jurisdiction } from "./columns.ts";
export * from "./compliance.ts";
export * from "./numbers.ts";
export * from "./secrets.ts";
export * from "./webhooks.ts";
