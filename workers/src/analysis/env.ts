// The bindings post-call analysis reads (wrangler.toml and secrets; see docs/configuration.md).
export interface AnalysisMessage {
  tenantId: string;
  callId: string;
  jurisdiction: "us" | "eu";
}

export interface AnalysisEnv {
  /** Producer: the CallLedger sends one message per ended call. Consumer: this Worker's `queue()` handler. */
  ANALYSIS_QUEUE?: Queue<AnalysisMessage> | undefined;
  /** Bedrock region the edge asks for US tenants' analyses (default us-east-1). */
  BEDROCK_REGION?: string | undefined;
  /** Bedrock region for EU tenants' analyses (default eu-central-1): transcripts stay in the EU. */
  BEDROCK_REGION_EU?: string | undefined;
  /** Override Bedrock's endpoint (the emulator, a VPC endpoint); default https://bedrock-runtime.<region>.amazonaws.com. */
  BEDROCK_ENDPOINT?: string | undefined;
  /** Credentials of an IAM user allowed bedrock:InvokeModel (secrets). */
  AWS_ACCESS_KEY_ID?: string | undefined;
  AWS_SECRET_ACCESS_KEY?: string | undefined;
  AWS_SESSION_TOKEN?: string | undefined;
  /** JSON price override laid over the built-in price table (workers/src/cost/prices.ts, docs/cost.md). */
  PRICE_TABLE_JSON?: string | undefined;
}
