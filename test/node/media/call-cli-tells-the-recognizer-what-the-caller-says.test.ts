// `npm run call -- --say "…"` through the real path: the CLI calls a media node, the node (not the caller) talks to
// the Deepgram emulator with the call's ID as Deepgram's `tag`, and the CLI has told the emulator that call's lines.
// So the recogniser hears what the caller says; without the script it hears its default caller script.
import { spawn } from "node:child_process";
import { afterAll, beforeAll, expect, test } from "vitest";
import {
  DEFAULT_CALLER_SCRIPT,
  type DeepgramEmulator,
  startDeepgramEmulator,
} from "../../../emulators/deepgram/index.ts";
import { deepgramStt } from "../../../media-nodes/src/providers/deepgram/stt.ts";
import { deepgramTts } from "../../../media-nodes/src/providers/deepgram/tts.ts";
import { type Harness, startHarness, until } from "./support/harness.ts";

function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "emulators/twilio-caller/cli.ts", ...args], {
      env: { ...process.env, TWILIO_AUTH_TOKEN: "" },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => {
      out += c;
    });
    child.stderr.on("data", (c) => {
      err += c;
    });
    child.on("close", (code) => resolve({ code: code ?? -1, out, err }));
  });
}

let dg: DeepgramEmulator;
let h: Harness;
beforeAll(async () => {
  dg = await startDeepgramEmulator({ port: 0, profile: "instant" });
  h = await startHarness({
    sttProvider: deepgramStt({ apiKey: "emulator-key", baseUrl: dg.url }),
    ttsProvider: deepgramTts({ apiKey: "emulator-key", baseUrl: dg.url }),
    llm: Array.from({ length: 4 }, () => [
      { type: "text", text: "Sure, we close at six." },
      { type: "stop", reason: "end_turn" },
    ]),
  });
});
afterAll(async () => {
  await h?.close();
  await dg?.close();
});

const LINE = "What time do you close on Friday evening?";

async function call(callId: string, extra: string[]): Promise<string[]> {
  const { code, err } = await runCli([
    "--stream-url",
    h.wsUrl(),
    "--param",
    `token=${await h.token({ callId })}`,
    "--say",
    LINE,
    "--no-greeting",
    "--reply-silence",
    "500",
    "--json",
    ...extra,
  ]);
  expect(err).toBe("");
  expect(code).toBe(0);
  await until(() => h.sink.ofType("turn", callId).some((t) => t.userText.length > 0), "the caller's turn");
  return h.sink
    .ofType("turn", callId)
    .map((t) => t.userText)
    .filter((t) => t.length > 0);
}

test("the recogniser hears the --say line, found by the call ID the node gives Deepgram as its tag", async () => {
  expect(await call("call_cli_scripted", ["--deepgram-emulator", dg.url])).toEqual([LINE]);
  // The call's script is forgotten once the call is over.
  const left = (await (await fetch(`${dg.url}/__emulator/scripts/call_cli_scripted`)).json()) as {
    remaining: string[];
  };
  expect(left.remaining).toEqual([]);
}, 40_000);

test("without it the recogniser hears its default caller script instead", async () => {
  const heard = await call("call_cli_default", ["--deepgram-emulator", dg.url, "--no-recognizer-script"]);
  expect(heard).toHaveLength(1);
  expect(heard[0]).not.toBe(LINE);
  expect(DEFAULT_CALLER_SCRIPT).toContain(heard[0]);
}, 40_000);
