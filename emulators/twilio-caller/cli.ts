// npm run call -- …: place simulated phone calls against the platform, through the edge's Twilio voice webhook or
// straight to a media node's stream, and print per-turn latency. See --help.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { z } from "zod";
import {
  CallerError,
  type CallerStep,
  type CallReport,
  type Provider,
  runCall,
  SimulatedCaller,
  type SimulatedCallerOptions,
  type Utterance,
} from "./caller.ts";
import { callIdOf, clearRecognizerScript, setRecognizerScript, spokenLines } from "./recognizer-script.ts";
import { loadFixtureIndex, speechFor } from "./speech.ts";
import { placeCallViaWebhook, sendStatusCallback } from "./webhook.ts";

// The edge `npm start` runs (EDGE_PORT moves it there too).
const DEFAULT_VOICE_URL = `http://127.0.0.1:${process.env.EDGE_PORT || "8787"}/v1/telephony/twilio/voice`;
const DEFAULT_BARGE_IN_LINE = "barge-in-change-address";
// The Deepgram emulator `npm start` runs (DEEPGRAM_EMULATOR_PORT moves it there too).
const DEFAULT_DEEPGRAM_EMULATOR_URL = `http://127.0.0.1:${process.env.DEEPGRAM_EMULATOR_PORT || "8091"}`;

const HELP = `Simulated phone caller for AYBIZA: speaks Twilio Media Streams like a real call and times the agent.

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

class UsageError extends Error {}

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
type ScenarioStep = z.infer<typeof stepSchema>;

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

interface Plan {
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

function plan(argv: string[]): Plan | null {
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

/** Speaks every line once up front, so espeak-ng never runs inside a timed call. */
async function resolveScript(steps: ScenarioStep[]): Promise<CallerStep[]> {
  const cache = new Map<string, Utterance>();
  const speak = async (line: string): Promise<Utterance> => {
    let u = cache.get(line);
    if (!u) {
      const s = await speechFor(line);
      u = { audio: s.audio, text: s.text, name: line };
      cache.set(line, u);
    }
    return u;
  };
  const out: CallerStep[] = [];
  for (const step of steps) {
    if (typeof step === "string") out.push({ line: await speak(step) });
    else if ("line" in step) {
      out.push({
        line: await speak(step.line),
        ...(step.bargeIn
          ? { bargeIn: { afterAgentAudioMs: step.bargeIn.afterAgentAudioMs, line: await speak(step.bargeIn.line) } }
          : {}),
      });
    } else out.push(step);
  }
  return out;
}

type CallOutcome =
  | { ok: boolean; kind: "completed"; report: CallReport }
  | { ok: false; kind: "refused"; callSid: string; spoken: string[] }
  | { ok: false; kind: "failed"; error: string; code?: number };

const active = new Set<SimulatedCaller>();
let noEmulatorNoted = false;

/** Before the caller says anything: the emulator's recogniser is told this call's lines. */
async function scriptRecognizer(
  p: Plan,
  script: CallerStep[],
  parameters: Record<string, string>,
): Promise<string | undefined> {
  const callId = callIdOf(parameters);
  if (!p.deepgramEmulator || !callId) return undefined;
  const outcome = await setRecognizerScript(p.deepgramEmulator, callId, spokenLines(script));
  if (outcome === "set") return callId;
  if (!noEmulatorNoted) {
    noEmulatorNoted = true;
    process.stderr.write(
      `call: no Deepgram emulator at ${p.deepgramEmulator}; the recogniser hears the audio itself\n`,
    );
  }
  return undefined;
}

async function placeOne(p: Plan, script: CallerStep[]): Promise<CallOutcome> {
  const callerOptions: Omit<SimulatedCallerOptions, "streamUrl"> = {
    provider: p.provider,
    from: p.from,
    to: p.to,
    replyTimeoutMs: p.replyTimeoutMs,
    replySilenceMs: p.replySilenceMs,
    record: p.record !== undefined,
  };
  let caller: SimulatedCaller;
  let scripted: string | undefined;
  if (p.target.kind === "webhook") {
    const result = await placeCallViaWebhook({
      voiceUrl: p.target.voiceUrl,
      authToken: p.authToken ?? "",
      from: p.from,
      to: p.to,
      caller: callerOptions,
    });
    if (result.outcome === "refused")
      return { ok: false, kind: "refused", callSid: result.callSid, spoken: result.spoken };
    if (result.outcome === "error") return { ok: false, kind: "failed", error: result.message, code: result.code };
    caller = result.caller;
    scripted = await scriptRecognizer(p, script, result.stream.parameters);
  } else {
    scripted = await scriptRecognizer(p, script, p.params);
    caller = await SimulatedCaller.connect({
      ...callerOptions,
      streamUrl: p.target.streamUrl,
      customParameters: p.params,
      ...(p.authToken ? { authToken: p.authToken } : {}),
    });
  }
  active.add(caller);
  try {
    const report = await runCall(caller, {
      script,
      waitForGreeting: p.waitForGreeting,
      ...(p.record ? { recordTo: p.record } : {}),
    });
    if (p.statusUrl && p.authToken) {
      await sendStatusCallback({
        statusUrl: p.statusUrl,
        authToken: p.authToken,
        callSid: report.callSid,
        accountSid: report.accountSid,
        status: "completed",
        duration: report.durationMs / 1000,
        from: p.from,
        to: p.to,
      });
    }
    return { ok: report.errors.length === 0, kind: "completed", report };
  } finally {
    active.delete(caller);
    if (scripted && p.deepgramEmulator) await clearRecognizerScript(p.deepgramEmulator, scripted);
  }
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] ?? null;
}

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
}

function summarize(outcomes: CallOutcome[], p: Plan) {
  const reports = outcomes.flatMap((o) => (o.kind === "completed" ? [o.report] : []));
  const turns = reports.flatMap((r) => r.turns);
  return {
    calls: outcomes.length,
    ok: outcomes.filter((o) => o.ok).length,
    failed: outcomes.filter((o) => !o.ok).length,
    refused: outcomes.filter((o) => o.kind === "refused").length,
    concurrency: p.concurrency,
    firstAgentAudioMs: stats(turns.flatMap((t) => (t.firstAgentAudioMs === null ? [] : [t.firstAgentAudioMs]))),
    agentAudioMs: stats(turns.flatMap((t) => (t.agentAudioMs > 0 && !t.interrupted ? [t.agentAudioMs] : []))),
    bargeInClearMs: stats(turns.flatMap((t) => (t.bargedIn && t.clearAfterMs !== null ? [t.clearAfterMs] : []))),
    bargeInsWithoutClear: turns.filter((t) => t.bargedIn && t.clearAfterMs === null).length,
    turnsWithoutReply: turns.filter((t) => t.timedOut).length,
    lateFrames: reports.reduce((a, r) => a + r.lateFrames, 0),
    /** Calls that followed the TwiML to a new stream mid-call (a resumed call). */
    movedCalls: reports.filter((r) => r.streams.length > 1).length,
  };
}

const ms = (v: number | null) => (v === null ? "–" : `${Math.round(v)} ms`);

function printSummary(outcomes: CallOutcome[], p: Plan): void {
  const s = summarize(outcomes, p);
  const out: string[] = [];
  if (outcomes.length === 1) {
    const o = outcomes[0]!;
    if (o.kind === "completed") {
      const g = o.report.greeting;
      out.push(`call ${o.report.callSid}`);
      if (g)
        out.push(`  greeting        first audio ${ms(g.firstAgentAudioMs)} after answer, ${ms(g.agentAudioMs)} long`);
      o.report.turns.forEach((t, i) => {
        const said = (t.text ?? t.line).length > 60 ? `${(t.text ?? t.line).slice(0, 57)}…` : (t.text ?? t.line);
        const extra = t.bargedIn ? `, agent cleared after ${ms(t.clearAfterMs)}` : t.interrupted ? ", interrupted" : "";
        out.push(
          `  ${String(i + 1).padStart(2)}. "${said}"\n      first audio ${ms(t.firstAgentAudioMs)}, reply ${ms(t.agentAudioMs)}${extra}${t.timedOut ? ", NO REPLY" : ""}`,
        );
      });
      // The call was moved to another stream (its media node was lost and the platform resumed it elsewhere).
      for (const stream of o.report.streams.slice(1)) {
        out.push(`  ↪ stream ${stream.streamSid} from ${ms(stream.openedAt)} (${stream.url})`);
      }
    }
  }
  const failures = outcomes.flatMap((o) =>
    o.kind === "refused"
      ? [`refused: "${o.spoken.join(" ")}"`]
      : o.kind === "failed"
        ? [`failed${o.code ? ` (${o.code})` : ""}: ${o.error}`]
        : o.report.errors.map((e) => `${o.report.callSid}: ${e}`),
  );
  const unique = [...new Set(failures)];
  out.push(`calls           ${s.ok} ok, ${s.failed} failed (${s.calls} placed, ${s.concurrency} at a time)`);
  const row = (label: string, x: ReturnType<typeof stats>) =>
    `${label.padEnd(16)}p50 ${ms(x.p50)}  p95 ${ms(x.p95)}  p99 ${ms(x.p99)}  (n=${x.n})`;
  out.push(row("first audio", s.firstAgentAudioMs));
  out.push(row("reply length", s.agentAudioMs));
  if (s.bargeInClearMs.n > 0 || s.bargeInsWithoutClear > 0) {
    out.push(
      `${row("barge-in clear", s.bargeInClearMs)}${s.bargeInsWithoutClear ? `, ${s.bargeInsWithoutClear} never cleared` : ""}`,
    );
  }
  if (s.lateFrames > 0) out.push(`late frames     ${s.lateFrames} (this machine was too busy to keep 20 ms pace)`);
  for (const f of unique.slice(0, 10)) out.push(`  ${f}`);
  if (unique.length > 10) out.push(`  … and ${unique.length - 10} more`);
  process.stdout.write(`${out.join("\n")}\n`);
}

function progress(done: number, failed: number, running: number, total: number, startedAt: number): void {
  if (!process.stderr.isTTY) return;
  const width = 24;
  const filled = Math.round((done / total) * width);
  const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
  const secs = ((performance.now() - startedAt) / 1000).toFixed(1);
  process.stderr.write(`\r[${bar}] ${done}/${total} calls · ${running} live · ${failed} failed · ${secs} s\x1b[K`);
}

async function main(): Promise<number> {
  let p: Plan | null;
  try {
    p = plan(process.argv.slice(2));
  } catch (err) {
    const msg = (err as Error).message.replace(/^.*ERR_PARSE_ARGS_\w+\]?:?\s*/, "");
    process.stderr.write(`call: ${msg} (see --help)\n`);
    return 2;
  }
  if (!p) {
    process.stdout.write(HELP);
    return 0;
  }
  const script = await resolveScript(p.script);
  const outcomes: CallOutcome[] = [];
  const startedAt = performance.now();
  let next = 0;
  let running = 0;
  let interrupted = false;
  let fatal: CallerError | null = null;
  process.on("SIGINT", () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write("\nhanging up…\n");
    for (const c of active) void c.hangUp();
  });
  const tick = setInterval(
    () => progress(outcomes.length, outcomes.filter((o) => !o.ok).length, running, p.calls, startedAt),
    200,
  );
  const worker = async () => {
    while (next < p.calls && !interrupted && !fatal) {
      next++;
      running++;
      try {
        outcomes.push(await placeOne(p, script));
      } catch (err) {
        if (err instanceof CallerError && /nothing is listening|cannot resolve/.test(err.message)) fatal = err;
        outcomes.push({ ok: false, kind: "failed", error: (err as Error).message });
      } finally {
        running--;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(p.concurrency, p.calls) }, worker));
  clearInterval(tick);
  if (process.stderr.isTTY && p.calls > 1) {
    progress(outcomes.length, outcomes.filter((o) => !o.ok).length, 0, p.calls, startedAt);
    process.stderr.write("\n");
  }
  // Nothing to talk to: one line, not a table of identical failures.
  if (fatal && outcomes.every((o) => o.kind === "failed")) {
    process.stderr.write(`call: ${(fatal as CallerError).message}\n`);
    return 1;
  }
  if (p.json) {
    process.stdout.write(`${JSON.stringify({ summary: summarize(outcomes, p), calls: outcomes }, null, 2)}\n`);
  } else printSummary(outcomes, p);
  return outcomes.every((o) => o.ok) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`call: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
