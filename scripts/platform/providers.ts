// Which speech and model providers a local run uses. Keys switch a provider to the real service, one provider at
// a time: DEEPGRAM_API_KEY → Deepgram; AWS credentials (AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, AWS_PROFILE or
// a web identity token) → Bedrock. Without them the local emulator stands in. Endpoint overrides (DEEPGRAM_URL,
// BEDROCK_ENDPOINT) point either at another server; an emulator is started only for a provider with neither a
// key nor an override. Read from the environment merged with .dev.vars (the environment wins).

/** Variables the media node reads for its providers; passed through from the environment / .dev.vars. */
export const PROVIDER_VARS = [
  "DEEPGRAM_API_KEY",
  "DEEPGRAM_URL",
  "BEDROCK_ENDPOINT",
  "AWS_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_PROFILE",
  "AWS_CONFIG_FILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_ROLE_ARN",
] as const;

export type EmulatorName = "deepgram" | "bedrock";

export interface ProviderPlan {
  deepgram: { real: boolean; url: string; startEmulator: boolean };
  bedrock: { real: boolean; endpoint: string | undefined; region: string; startEmulator: boolean };
  /** The emulators to start, in order. */
  emulators: EmulatorName[];
  /** Provider settings for the media node's environment (keys included; never printed). */
  mediaNodeEnv: Record<string, string>;
  /** One line per provider for the start banner (no secrets). */
  describe(): string[];
}

export function awsCredentialsPresent(env: Readonly<Record<string, string | undefined>>): boolean {
  return Boolean(
    (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE,
  );
}

export function providerPlan(
  env: Readonly<Record<string, string | undefined>>,
  emulatorPorts: { deepgram: number; bedrock: number },
): ProviderPlan {
  const value = (name: string) => env[name]?.trim() || undefined;
  const deepgramKey = value("DEEPGRAM_API_KEY");
  const deepgramOverride = value("DEEPGRAM_URL");
  const bedrockOverride = value("BEDROCK_ENDPOINT");
  const awsReal = awsCredentialsPresent(env);

  const deepgram = {
    real: deepgramKey !== undefined,
    startEmulator: deepgramKey === undefined && deepgramOverride === undefined,
    url: deepgramOverride ?? (deepgramKey ? "https://api.deepgram.com" : `http://127.0.0.1:${emulatorPorts.deepgram}`),
  };
  const bedrock = {
    real: awsReal,
    startEmulator: !awsReal && bedrockOverride === undefined,
    endpoint: bedrockOverride ?? (awsReal ? undefined : `http://127.0.0.1:${emulatorPorts.bedrock}`),
    region: value("AWS_REGION") ?? "us-east-1",
  };

  const mediaNodeEnv: Record<string, string> = {};
  for (const name of PROVIDER_VARS) {
    const v = value(name);
    if (v !== undefined) mediaNodeEnv[name] = v;
  }
  mediaNodeEnv.DEEPGRAM_URL = deepgram.url;
  mediaNodeEnv.AWS_REGION = bedrock.region;
  if (bedrock.endpoint) mediaNodeEnv.BEDROCK_ENDPOINT = bedrock.endpoint;
  if (!awsReal) {
    // Half a set of credentials must not make the node's SDK try them against the emulator.
    for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]) delete mediaNodeEnv[name];
  }

  return {
    deepgram,
    bedrock,
    emulators: [
      ...(deepgram.startEmulator ? (["deepgram"] as const) : []),
      ...(bedrock.startEmulator ? (["bedrock"] as const) : []),
    ],
    mediaNodeEnv,
    describe: () => [
      deepgram.real
        ? `Deepgram   ${deepgram.url}  (real: DEEPGRAM_API_KEY)`
        : `Deepgram   ${deepgram.url}  (${deepgram.startEmulator ? "emulator" : "DEEPGRAM_URL, no key"})`,
      bedrock.real
        ? `Bedrock    ${bedrock.endpoint ?? `AWS ${bedrock.region}`}  (real: AWS credentials)`
        : `Bedrock    ${bedrock.endpoint}  (${bedrock.startEmulator ? "emulator" : "BEDROCK_ENDPOINT, no credentials"})`,
    ],
  };
}
