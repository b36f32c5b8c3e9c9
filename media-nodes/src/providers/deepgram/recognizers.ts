// One SttProvider that opens Flux or Nova-3 per call, as the agent's `recognizer` setting says (SttOptions.recognizer):
// a strategy chosen per session, so the pipeline never branches on the vendor's model.
import type { SttProvider } from "../types.ts";

export interface RecognizerChoice {
  flux: SttProvider;
  nova: SttProvider;
}

/** Opens `flux` when the options ask for "flux", otherwise `nova` (the recogniser sessions had before Flux). */
export function deepgramRecognizers(choice: RecognizerChoice): SttProvider {
  return {
    name: "deepgram",
    open(options, onEvent) {
      return (options.recognizer === "flux" ? choice.flux : choice.nova).open(options, onEvent);
    },
  };
}
