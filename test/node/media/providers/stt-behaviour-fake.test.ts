import { FakeStt } from "../../../../media-nodes/src/providers/fake/index.ts";
import type { SttProvider, SttSession } from "../../../../media-nodes/src/providers/types.ts";
import type { Utterance } from "./speech.ts";
import { runSttBehaviour } from "./stt.behaviour.ts";

// The fake hears what the test scripts; this drive scripts what the vendor would have heard.
function fake(provider: SttProvider): FakeStt {
  if (!(provider instanceof FakeStt)) throw new Error("expected the fake");
  return provider;
}

runSttBehaviour("fake", async () => new FakeStt({ autoFinalize: true }), {
  async say(provider, session: SttSession, u: Utterance) {
    session.sendAudio(u.audio);
    const stt = fake(provider);
    stt.emit({ type: "speech-started", timestamp: 0.1 });
    stt.emit(FakeStt.interim(u.text.split(" ").slice(0, 3).join(" "), 0.1));
    stt.emit(FakeStt.final(u.text, { speechFinal: true, startSec: 0.1 }));
  },
  async startSaying(provider, session, u) {
    session.sendAudio(u.audio.subarray(0, u.audio.length >> 1));
    const stt = fake(provider);
    stt.emit({ type: "speech-started", timestamp: 0.1 });
    stt.emit(FakeStt.interim(u.text.split(" ").slice(0, 3).join(" "), 0.1));
  },
});
