// What deepgramStt and deepgramTts ask Deepgram for, read off the wire: μ-law 8 kHz straight through (no
// transcoding), Nova-3 with the turn-taking events the pipeline relies on, the call's tag and keyterms,
// Aura-2 μ-law out, and the API key as a Token.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../../emulators/deepgram/index.ts";
import { deepgramStt } from "../../../../media-nodes/src/providers/deepgram/stt.ts";
import { deepgramTts } from "../../../../media-nodes/src/providers/deepgram/tts.ts";
import { type CutProxy, startCutProxy } from "./cut-proxy.ts";
import { sttOptions } from "./stt.behaviour.ts";

let emulator: DeepgramEmulator;
let proxy: CutProxy;
beforeAll(async () => {
  emulator = await startDeepgramEmulator({ port: 0, profile: "instant" });
  proxy = await startCutProxy(emulator.url);
});
afterAll(async () => {
  await proxy.close();
  await emulator.close();
});

function requestOf(head: string | undefined): { url: URL; headers: Map<string, string> } {
  if (!head) throw new Error("no request seen");
  const [line, ...rest] = head.split("\r\n");
  const path = line!.split(" ")[1]!;
  const headers = new Map(
    rest.map((h) => [h.slice(0, h.indexOf(":")).toLowerCase(), h.slice(h.indexOf(":") + 1).trim()]),
  );
  return { url: new URL(path, "http://x"), headers };
}

describe("Deepgram requests", () => {
  it("listen: Nova-3 on raw μ-law 8 kHz with interim results, endpointing, VAD events, keyterms and the call tag", async () => {
    const stt = deepgramStt({ apiKey: "secret-key", baseUrl: proxy.url });
    const session = await stt.open({ ...sttOptions("CA0123"), keyterms: ["Acme Dental", "reschedule"] }, () => {});
    await session.close();
    const { url, headers } = requestOf(proxy.requestHeads.at(-1));
    expect(url.pathname).toBe("/v1/listen");
    const q = url.searchParams;
    expect(Object.fromEntries([...q.entries()].filter(([k]) => k !== "keyterm"))).toMatchObject({
      model: "nova-3",
      encoding: "mulaw",
      sample_rate: "8000",
      channels: "1",
      interim_results: "true",
      endpointing: "300",
      utterance_end_ms: "1000",
      vad_events: "true",
      smart_format: "true",
      punctuate: "true",
      language: "en-US",
      tag: "CA0123",
    });
    expect(q.getAll("keyterm")).toEqual(["Acme Dental", "reschedule"]);
    expect(headers.get("authorization")).toBe("Token secret-key");
  });

  it("speak: the voice as the model, μ-law at 8 kHz", async () => {
    const tts = deepgramTts({ apiKey: "secret-key", baseUrl: proxy.url });
    const session = await tts.open({ voice: "aura-2-thalia-en", encoding: "mulaw", sampleRate: 8_000 }, () => {});
    await session.close();
    const { url, headers } = requestOf(proxy.requestHeads.at(-1));
    expect(url.pathname).toBe("/v1/speak");
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      model: "aura-2-thalia-en",
      encoding: "mulaw",
      sample_rate: "8000",
    });
    expect(headers.get("authorization")).toBe("Token secret-key");
  });

  it("a wrong API key fails open() with the reason, without retrying", async () => {
    const before = proxy.connections;
    const stt = deepgramStt({ apiKey: "invalid", baseUrl: proxy.url, reconnect: { attempts: 3, backoffMs: 10 } });
    await expect(stt.open(sttOptions("bad-key"), () => {})).rejects.toThrow(/401/);
    expect(proxy.connections - before).toBe(1);
    const tts = deepgramTts({ apiKey: "invalid", baseUrl: proxy.url });
    await expect(
      tts.open({ voice: "aura-2-thalia-en", encoding: "mulaw", sampleRate: 8_000 }, () => {}),
    ).rejects.toThrow(/aura-2-thalia-en/);
  });
});
