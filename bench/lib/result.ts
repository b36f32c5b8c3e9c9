// The shape of bench/results/latest.json: what `npm run bench` measured, on which machine, with which
// commands. docs/benchmarks.md is generated from it (bench/report.ts), never edited by hand.
import type { CapacityFigures } from "./capacity.ts";
import type { MachineInfo } from "./machine.ts";
import type { VoiceLatencyFigures } from "./voice-latency.ts";

export const SECTION_IDS = ["latency", "capacity", "mediaNode", "edge", "emulators"] as const;
export type SectionId = (typeof SECTION_IDS)[number];

export type Section<T> =
  | { status: "measured"; command: string; seconds: number; figures: T; notes?: string[] }
  | { status: "not-measured"; command: string; reason: string };

export interface ProviderProfile {
  name: string;
  sttFinalAfterEndOfSpeechMs: number;
  sttEndpointingMs: number;
  /** Deepgram Flux: EagerEndOfTurn and EndOfTurn after the end of speech (absent in older results). */
  fluxEagerMs?: number;
  fluxEndOfTurnMs?: number;
  llmTtftCacheHitMs: number;
  llmTtftCacheMissMs: number;
  llmTokensPerSecond: number;
  ttsFirstByteMs: number;
  ttsRealtimeFactor: number;
}

export interface BenchResult {
  schema: 1;
  mode: "full" | "quick";
  command: string;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  machine: MachineInfo;
  /** How the processes were placed on cores. */
  placement: string;
  latencyProfile: ProviderProfile;
  sections: {
    latency: Section<VoiceLatencyFigures>;
    capacity: Section<CapacityFigures>;
    /** From bench/media-node.ts (benchMediaNode), as it returns them. */
    mediaNode: Section<unknown>;
    /** From bench/edge.ts (benchEdge), as it returns them. */
    edge: Section<unknown>;
    /** From bench/emulator-streams.ts (benchEmulatorStreams), as it returns them. */
    emulators: Section<unknown>;
  };
}
