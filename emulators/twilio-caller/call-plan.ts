// What `npm run call` was asked to do: its --help, and the command line (with a scenario file, the auth token from
// wherever npm start left it, and the defaults) read into one checked plan.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { z } from "zod";
import type { Provider } from "./caller.ts";
import { loadFixtureIndex } from "./speech.ts";

// The edge `npm start` runs (EDGE_PORT moves it there too).
const DEFAULT_VOICE_URL = `http://127.0.0.1:${process.env.EDGE_PORT || "8787"}/v1/telephony/twilio/voice`;
const DEFAULT_BARGE_IN_LINE = "barge-in-change-address";
// The Deepgram emulator `npm start` runs (DEEPGRAM_EMULATOR_PORT moves it there too).
const DEFAULT_DEEPGRAM_EMULATOR_URL = `http://127.0.0.1:${process.env.DEEPGRAM_EMULATOR_PORT || "8091"}`;

export const HELP = `Simulated phone caller for AYBIZA: speaks Twilio Media Streams like a real call and times the agent.

Usage: npm run call -- [options]

Where to call (default: through the edge at ${DEFAULT_VOICE_URL}):
  --voice-url URL        the number's Voice URL on the edge; the webhook is signed like Twilio's
  --stream-url URL       ws:// or wss:// media stream of a media node, skipping the edge
  --auth-token TOKEN     Twilio auth token used to sign (default: $TWILIO_AUTH_TOKEN, then .dev.vars,
                         then the one npm start generated in .data/local-secrets.json)
  --param NAME=VALUE     <Parameter> sent in start.customParameters with --stream-url (repeatable)
  --provider NAME        twilio (default) or telnyx (wire format; with --stream-url only)
  --from NUMBER          caller's number (default +14155550123)
  --to NUMBER            number called (default +14155550100)
  --status-url URL       POST a signed "completed" status callback here after each call

What the caller says (default: the fixtures' default script):
  --say TEXT             a line: a fixture name, a fixture's exact text, or any text (espeak-ng) (repeatable);
                         "…" in a line is a 600 ms mid-sentence pause ("My number is … 4 8 2 1 3")
  --scenario FILE        JSON: {"script": [line | {"line", "bargeIn": {"afterAgentAudioMs", "line"}} |
                         {"dtmf": "12#"} | {"pauseMs": 500}], "from", "to", "params", "waitForGreeting"}
  --barge-in             interrupt the reply to the first line with a long line (fixture ${DEFAULT_BARGE_IN_LINE})
  --barge-in-after MS    how much of that reply to hear first (default 1000)
  --no-greeting          speak at once instead of waiting for the agent's greeting
  --reply-timeout MS     wait this long for the agent to start answering (default 15000)
  --reply-silence MS     silence that ends the agent's reply (default 900)
  --deepgram-emulator URL  tell this Deepgram emulator the lines, for the call's ID (the tag the media node
                         gives Deepgram), so its recogniser hears what the caller says (default
                         ${DEFAULT_DEEPGRAM_EMULATOR_URL}; skipped when nothing answers there: real Deepgram)
  --no-recognizer-script the emulator hears its default caller script instead

Load and output:
  --calls N              calls to place (default: --concurrency)
  --concurrency N        calls at the same time (default 1); a progress bar goes to stderr
  --record FILE.wav      save the call audio, caller left and agent right (single call)
  --json                 print the reports and summary as JSON on stdout
  -h, --help             this text

Examples:
  npm run call
  npm run call -- --say "What are your opening hours on Saturday?" --say okay
  npm run call -- --stream-url ws://127.0.0.1:8080/twilio --param token=… --barge-in
  npm run call -- --concurrency 20 --calls 100 --json > run.json
`;

export class UsageError extends Error {}

const utteranceSchema = z.string().min(1);
const stepSchema = z.union([
  utteranceSchema,
  z.object({
    line: utteranceSchema,
    bargeIn: z.object({ afterAgentAudioMs: z.number().nonnegative(), line: utteranceSchema }).optional(),
  }),
  z.object({ dtmf: z.string().regex(/^[0-9*#]+$/), gapMs: z.number().nonnegative().optional() }),
  z.object({ pauseMs: z.number().nonnegative() }),
]);
const scenarioSchema = z.object({
  script: z.array(stepSchema).min(1),
  from: z.string().optional(),
  to: z.string().optional(),
  params: z.record(z.string(), z.string()).optional(),
  waitForGreeting: z.boolean().optional(),
});
export type ScenarioStep = z.infer<typeof stepSchema>;

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  return n;
}

function authTokenFromDevVars(): string | undefined {
  try {
    const text = readFileSync(".dev.vars", "utf8");
    return /^\s*TWILIO_AUTH_TOKEN\s*=\s*"?([^"\n]*)"?\s*$/m.exec(text)?.[1];
  } catch {
    return undefined;
  }
}

/** The token `npm start` generated when none was set (its data directory moves with AYBIZA_DATA_DIR). */
function authTokenFromLocalSecrets(): string | undefined {
  try {
    const dir = process.env.AYBIZA_DATA_DIR ?? ".data";
    const parsed = z
      .object({ twilioAuthToken: z.string().min(1) })
      .safeParse(JSON.parse(readFileSync(`${dir}/local-secrets.json`, "utf8")));
    return parsed.success ? parsed.data.twilioAuthToken : undefined;
  } catch {
    return undefined;
  }
}

export interface Plan {
  target: { kind: "webhook"; voiceUrl: string } | { kind: "stream"; streamUrl: string };
  authToken: string | undefined;
  provider: Provider;
  from: string;
  to: string;
  params: Record<string, string>;
  statusUrl: string | undefined;
  script: ScenarioStep[];
  waitForGreeting: boolean;
  replyTimeoutMs: number;
  replySilenceMs: number;
  /** Where to put the caller's lines for the recogniser; null: not at all. */
  deepgramEmulator: string | null;
  calls: number;
  concurrency: number;
  record: string | undefined;
  json: boolean;
}

export function plan(argv: string[]): Plan | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      help: { type: "boolean", short: "h" },
      "voice-url": { type: "string" },
      "stream-url": { type: "string" },
      "auth-token": { type: "string" },
      param: { type: "string", multiple: true },
      provider: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      "status-url": { type: "string" },
      say: { type: "string", multiple: true },
      scenario: { type: "string" },
      "barge-in": { type: "boolean" },
      "barge-in-after": { type: "string" },
      "no-greeting": { type: "boolean" },
      "reply-timeout": { type: "string" },
      "reply-silence": { type: "string" },
      "deepgram-emulator": { type: "string" },
      "no-recognizer-script": { type: "boolean" },
      calls: { type: "string" },
      concurrency: { type: "string" },
      record: { type: "string" },
      json: { type: "boolean" },
    },
  });
  if (values.help) return null;
  if (values["voice-url"] && values["stream-url"]) throw new UsageError("use --voice-url or --stream-url, not both");
  const provider = values.provider ?? "twilio";
  if (provider !== "twilio" && provider !== "telnyx") throw new UsageError(`--provider must be twilio or telnyx`);
  if (provider === "telnyx" && !values["stream-url"]) throw new UsageError("--provider telnyx needs --stream-url");
  if (values.say && values.scenario) throw new UsageError("use --say or --scenario, not both");

  let scenario: z.infer<typeof scenarioSchema> | undefined;
  if (values.scenario) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(values.scenario, "utf8"));
    } catch (err) {
      throw new UsageError(`cannot read scenario ${values.scenario}: ${(err as Error).message}`);
    }
    const parsed = scenarioSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new UsageError(`scenario ${values.scenario}: ${issue?.path.join(".") ?? ""} ${issue?.message ?? ""}`);
    }
    scenario = parsed.data;
  }

  const params: Record<string, string> = { ...scenario?.params };
  for (const p of values.param ?? []) {
    const eq = p.indexOf("=");
    if (eq <= 0) throw new UsageError(`--param must look like name=value, got "${p}"`);
    params[p.slice(0, eq)] = p.slice(eq + 1);
  }

  let script: ScenarioStep[] = scenario?.script ?? values.say ?? [];
  if (script.length === 0) {
    try {
      script = loadFixtureIndex().defaultScript;
    } catch (err) {
      throw new UsageError(`${(err as Error).message}, or give lines with --say`);
    }
  }
  if (values["barge-in"]) {
    const [first, ...rest] = script;
    const line = typeof first === "string" ? first : first && "line" in first ? first.line : undefined;
    if (!line) throw new UsageError("--barge-in needs the script to start with a line");
    const afterAgentAudioMs = positiveInt("barge-in-after", values["barge-in-after"], 1000);
    script = [{ line, bargeIn: { afterAgentAudioMs, line: DEFAULT_BARGE_IN_LINE } }, ...rest];
  }

  const concurrency = Math.max(1, positiveInt("concurrency", values.concurrency, 1));
  const calls = Math.max(1, positiveInt("calls", values.calls, concurrency));
  if (values.record && calls > 1) throw new UsageError("--record works with a single call");
  const target: Plan["target"] = values["stream-url"]
    ? { kind: "stream", streamUrl: values["stream-url"] }
    : { kind: "webhook", voiceUrl: values["voice-url"] ?? DEFAULT_VOICE_URL };
  const authToken =
    values["auth-token"] ?? process.env.TWILIO_AUTH_TOKEN ?? authTokenFromDevVars() ?? authTokenFromLocalSecrets();
  if (target.kind === "webhook" && !authToken) {
    throw new UsageError(
      "the webhook must be signed: start the platform with npm start (it generates a token), pass --auth-token or set TWILIO_AUTH_TOKEN",
    );
  }
  return {
    target,
    authToken,
    provider,
    from: values.from ?? scenario?.from ?? "+14155550123",
    to: values.to ?? scenario?.to ?? "+14155550100",
    params,
    statusUrl: values["status-url"],
    script,
    waitForGreeting: values["no-greeting"] ? false : (scenario?.waitForGreeting ?? true),
    replyTimeoutMs: positiveInt("reply-timeout", values["reply-timeout"], 15_000),
    replySilenceMs: positiveInt("reply-silence", values["reply-silence"], 900),
    deepgramEmulator: values["no-recognizer-script"]
      ? null
      : (values["deepgram-emulator"] ?? process.env.DEEPGRAM_EMULATOR_URL ?? DEFAULT_DEEPGRAM_EMULATOR_URL),
    calls,
    concurrency,
    record: values.record,
    json: values.json ?? false,
  };
}
