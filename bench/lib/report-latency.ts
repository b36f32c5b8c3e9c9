// The voice-to-voice latency section of docs/benchmarks.md: per turn as the simulated caller hears it, for the
// media node and the baseline, with each system's stage timeline, speculation and platform share.

import { fmt, measuredLine, notMeasured, type Row, summaryCells, table } from "./report-format.ts";
import type { BenchResult } from "./result.ts";
import type { Summary } from "./stats.ts";
import type { SystemLatency } from "./voice-latency.ts";

function speculationLine(
  s: SystemLatency["speculation"],
  label = "Speculative replies",
  startedOn = "an eager end of turn",
): string {
  if (!s) return `- ${label}: not reported.`;
  return (
    `- ${label} (started on ${startedOn}, played only once the turn was confirmed): ` +
    `${fmt(s.startsPerTurn, 2)} starts per turn over ${s.turns} turns; ${s.wasted} of ${s.starts} aborted ` +
    `(${fmt(s.wastedShare * 100, 1)}% wasted: model requests paid for and not used); the reply that played was the ` +
    `speculative one in ${fmt(s.playedSpeculativeShare * 100, 1)}% of turns.`
  );
}

export function latencySection(r: BenchResult): string {
  const s = r.sections.latency;
  const p = r.latencyProfile;
  const out = [
    "## Voice-to-voice latency per turn",
    "",
    "From the end of the caller's speech to the first agent audio the caller hears, measured at the simulated caller " +
      "(`emulators/twilio-caller`) for both systems: same scripts, same emulators, same run, one after the other. " +
      "Each call says the first lines of the emulator's default caller script and listens to the replies.",
    "",
    `Provider profile (\`${p.name}\`, emulated on loopback):`,
    "",
    table(
      ["provider", "emulated latency"],
      [
        ...(p.fluxEagerMs !== undefined && p.fluxEndOfTurnMs !== undefined
          ? [
              [
                "Deepgram STT (Flux, the default)",
                `EagerEndOfTurn ${p.fluxEagerMs} ms and EndOfTurn ${p.fluxEndOfTurnMs} ms after end of speech`,
              ] as Row,
            ]
          : []),
        [
          "Deepgram STT (Nova-3 live)",
          `final ${p.sttFinalAfterEndOfSpeechMs} ms after the endpointing silence (${p.sttEndpointingMs} ms) that follows end of speech`,
        ],
        [
          "Bedrock LLM (ConverseStream)",
          `time to first token ${p.llmTtftCacheHitMs} ms on a prompt-cache hit, ${p.llmTtftCacheMissMs} ms on a miss; then ${p.llmTokensPerSecond} tokens/s`,
        ],
        [
          "Deepgram TTS (Aura-2)",
          `first byte ${p.ttsFirstByteMs} ms after Flush; audio streamed at ${p.ttsRealtimeFactor}× real time`,
        ],
      ],
    ),
    "",
  ];
  const nm = notMeasured(s);
  if (nm || s.status !== "measured") {
    out.push(nm ?? "");
    return out.join("\n");
  }
  const f = s.figures;
  const row = (l: SystemLatency): Row => [
    l.system,
    l.voiceToVoiceMs.n,
    ...summaryCells(l.voiceToVoiceMs),
    ...summaryCells(l.firstAudioReceivedMs),
    ...summaryCells(l.platformMs, 2),
    ...summaryCells(l.providerAndNetworkMs),
    l.timedOut,
  ];
  out.push(
    measuredLine(s),
    "",
    table(
      [
        "system",
        "turns",
        "heard p50 ms",
        "heard p99 ms",
        "received p50 ms",
        "received p99 ms",
        "platform share p50 ms",
        "platform share p99 ms",
        "providers + network p50 ms",
        "providers + network p99 ms",
        "unanswered",
      ],
      [row(f.mediaNode), ...(f.nova3 ? [row(f.nova3)] : []), row(f.baseline)],
    ),
    "",
    `**Ratio (baseline ÷ media node, heard):** p50 ${fmt(f.ratios.voiceToVoiceP50, 2)}×, p99 ${fmt(f.ratios.voiceToVoiceP99, 2)}× ` +
      "(above 1: the media node answers sooner).",
    "",
    "Where the time goes (each system's own timeline, p50 / p99 ms):",
    "",
  );
  const comps = ["sttMs", "turnDetectionMs", "llmFirstTokenMs", "sentenceWaitMs", "ttsFirstByteMs"] as const;
  const names: Record<(typeof comps)[number], string> = {
    sttMs: "end of speech → STT final (turn confirmed)",
    turnDetectionMs: "end of speech → LLM request of the reply that played (turn-detection wait)",
    llmFirstTokenMs: "LLM request → first token",
    sentenceWaitMs: "first token → first clause (node) / sentence (baseline) to TTS",
    ttsFirstByteMs: "text to TTS → first audio byte",
  };
  const cell = (c: Summary | undefined) => (c ? `${fmt(c.p50)} / ${fmt(c.p99)}` : "not reported");
  const systems = [f.mediaNode, ...(f.nova3 ? [f.nova3] : []), f.baseline];
  out.push(
    table(
      ["stage", ...systems.map((x) => x.system)],
      comps.map((c) => [names[c], ...systems.map((x) => cell(x.components[c]))]),
    ),
    "",
    `- Calls per system: ${f.callsPerSystem}, placed together ${f.staggerMs} ms apart, each saying ${f.script.map((l) => `\`${l}\``).join(", ")}` +
      `${f.warmup ? "; one unmeasured warm-up call first" : "; no warm-up call"}. After the last line the caller hangs up once it has heard the agent start.`,
    "- **heard**: the first audible frame the caller *played* (its 20 ms playout clock). **received**: the first audible " +
      "frame that *arrived* (the CallReport's `firstAgentAudioMs`). They differ when a sender bursts audio faster than " +
      "real time: leading silence that arrives in the same message as the first word still has to play before the word is heard.",
    ...(f.nova3
      ? [
          `- ${f.nova3.system}: the same node, script and stagger, calls to the same agent with Nova-3 as its recognizer ` +
            `(turns end on the local VAD's silence, a Finalize and the completeness check) instead of Flux; ${f.nova3.calls} calls ` +
            `rather than ${f.callsPerSystem}, to keep the section short${f.warmup ? ", after one unmeasured warm-up call" : ""}.`,
        ]
      : []),
    `- Platform share, media node: ${f.mediaNode.platformSource}.`,
    speculationLine(f.mediaNode.speculation),
    ...(f.nova3?.speculation
      ? [
          speculationLine(
            f.nova3.speculation,
            "With Nova-3, speculative replies",
            "150 ms of VAD silence and a Finalize",
          ),
        ]
      : []),
    `- Platform share, baseline: ${f.baseline.platformSource}.`,
    "- Providers + network = heard minus platform share, per turn: everything the system waited on (STT, model, TTS, sockets).",
    "- The model is the same for both (one model ID for every tier of the media node's policy), and so are the prompt " +
      "(about 1,300 tokens) and the voice. The media node puts a prompt-cache point after the static prefix; the baseline, " +
      "like the samples it follows, does not, so its first token waits for the cache-miss latency.",
  );
  const errors = [
    ...f.mediaNode.errors.map((e) => `media node: ${e}`),
    ...(f.nova3?.errors ?? []).map((e) => `media node (Nova-3): ${e}`),
    ...f.baseline.errors.map((e) => `baseline: ${e}`),
  ];
  if (errors.length > 0) out.push(`- Errors seen: ${errors.slice(0, 6).map(fmt).join("; ")}`);
  const b = f.bargeIn;
  if (b) {
    out.push(
      "",
      "### Barge-in as heard at the caller (media node)",
      "",
      `${b.calls} calls, each saying \`order-status\` with "uh-huh" over the answer (a back-channel), then \`opening-hours\` ` +
        "talked over by `barge-in-change-address` (an interruption). Measured from the simulated caller's own playout; " +
        "onset is the caller's first voiced frame.",
      "",
      table(
        ["measure", "n", "p50 ms", "p99 ms"],
        [
          [
            "interruption: onset → agent quiet (time-to-silence)",
            b.interruptions.n,
            ...summaryCells(b.interruptions.timeToSilenceMs),
          ],
          [
            "interruption: agent heard again before the clear",
            b.interruptions.n,
            ...summaryCells(b.interruptions.heardAfterStopMs),
          ],
          [
            "interruption: line start → clear",
            b.interruptions.clearAfterMs.n,
            ...summaryCells(b.interruptions.clearAfterMs),
          ],
          [
            "back-channel: longest silence heard in the answer",
            b.backchannels.longestSilenceMs.n,
            ...summaryCells(b.backchannels.longestSilenceMs),
          ],
        ],
      ),
      "",
      `- Back-channels taken for an interruption: ${b.backchannels.interrupted} of ${b.backchannels.n}.`,
      "- The agent pauses on the caller's speech onset and resumes after 100 ms of quiet unless the words interrupt " +
        '(docs/media-node.md, "Barge-in is two steps"); "heard again" is a resume between the caller\'s first words ' +
        "before the recognizer has returned any.",
    );
    if (b.errors.length > 0) out.push(`- Errors seen: ${b.errors.slice(0, 6).map(fmt).join("; ")}`);
  }
  return out.join("\n");
}
