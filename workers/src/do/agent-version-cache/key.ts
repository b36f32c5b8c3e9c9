// The name of a version's AgentVersionCache. Apart from the class so that code outside the Worker's Durable
// Objects (the app, and its import in Node for the API reference) does not load partyserver.
export function agentVersionKey(tenantId: string, agentId: string, version: number): string {
  return `${tenantId}/${agentId}/${version}`;
}
