// The console's one script (bundled by scripts/build-console.mjs): brings the talk panel and live call pages to life.
import { bindLiveCall } from "./live-call.ts";
import { bindTalkPanels } from "./talk.ts";

bindTalkPanels();
bindLiveCall();
