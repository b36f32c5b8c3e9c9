// npm run call -- …: place simulated phone calls against the platform, through the edge's Twilio voice webhook or
// straight to a media node's stream, and print per-turn latency. See --help.
import { HELP, type Plan, plan, type ScenarioStep } from "./call-plan.ts";
import { type CallOutcome, printSummary, summarize } from "./call-summary.ts";
import {
  CallerError,
  type CallerStep,
  runCall,
  SimulatedCaller,
  type SimulatedCallerOptions,
  type Utterance,
} from "./caller.ts";
import { callIdOf, clearRecognizerScript, setRecognizerScript, spokenLines } from "./recognizer-script.ts";
import { speechFor } from "./speech.ts";
import { sendStatusCallback } from "./status-callback.ts";
import { placeCallViaWebhook } from "./webhook.ts";

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
