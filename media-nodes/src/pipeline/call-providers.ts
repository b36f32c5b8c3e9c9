// Opening a call's speech providers: the recogniser the agent names (behind STT recovery, so a drop or a stall is
// reopened with the caller's unconfirmed audio replayed) with the agent's turn settings, and the agent's voice.
import type { AgentRuntimeConfig } from "../../../shared/agent-config.ts";
import { type ResilientSttSession, type SttRecoveryOptions, sttWithRecovery } from "../providers/fallback.ts";
import type { SttEvent, SttProvider, TtsEvent, TtsProvider, TtsSession } from "../providers/types.ts";

/** Recognizer end-of-utterance settings (Nova-3): silence before a final, and gap before UtteranceEnd. */
export const STT_ENDPOINTING_MS = 300;
export const STT_UTTERANCE_END_MS = 1_000;
/** Until both end-of-utterance answers can have come (plus a margin), caller audio is not batched. */
export const STT_PROMPT_WINDOW_MS = STT_ENDPOINTING_MS + STT_UTTERANCE_END_MS + 200;

export interface CallProviders {
  stt: SttProvider;
  tts: TtsProvider;
  sttRecovery?: Omit<SttRecoveryOptions, "onRecover"> | undefined;
}

/** Opens both at once; the caller closes whatever opened if the call ended meanwhile. */
export function openCallProviders(
  providers: CallProviders,
  call: { callId: string; agent: AgentRuntimeConfig },
  handlers: {
    onStt: (event: SttEvent) => void;
    onTts: (event: TtsEvent) => void;
    onRecover: NonNullable<SttRecoveryOptions["onRecover"]>;
  },
): Promise<[ResilientSttSession, TtsSession]> {
  const { agent, callId } = call;
  const stt = sttWithRecovery(providers.stt, { ...providers.sttRecovery, onRecover: handlers.onRecover });
  return Promise.all([
    stt.open(
      {
        encoding: "mulaw",
        sampleRate: 8_000,
        language: agent.language,
        endpointingMs: STT_ENDPOINTING_MS,
        utteranceEndMs: STT_UTTERANCE_END_MS,
        ...(agent.keyterms.length ? { keyterms: agent.keyterms } : {}),
        tag: callId,
        recognizer: agent.recognizer,
        turn: {
          eagerEotThreshold: agent.turnTaking.eagerEotThreshold,
          eotThreshold: agent.turnTaking.eotThreshold,
          eotTimeoutMs: agent.turnTaking.eotTimeoutMs,
        },
      },
      handlers.onStt,
    ),
    providers.tts.open({ voice: agent.voice, encoding: "mulaw", sampleRate: 8_000 }, handlers.onTts),
  ]);
}
