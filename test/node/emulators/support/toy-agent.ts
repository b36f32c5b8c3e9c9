// A toy agent for the caller's tests, with known timings (see toyAgent).
import { isVoiced, type MediaConnection, payloadOf, tone } from "./fake-media-node.ts";

export const END_OF_SPEECH_SILENCE_MS = 200;
export const THINK_MS = 400;
export const REPLY_MS = 600;
export const LONG_REPLY_MS = 4000;

/**
 * A toy agent with known timings: it decides the caller has finished after 200 ms of silence, waits 400 ms, then
 * answers with a tone paced at 20 ms (600 ms, or 4 s after a line of 700 ms or more). Caller speech during its
 * answer (3 voiced frames) makes it `clear` and stop. With `greetingMs` it speaks first.
 */
export function toyAgent(conn: MediaConnection, greetingMs = 0): void {
  let voicedRun = 0;
  let silentRun = 0;
  let utteranceFrames = 0;
  let replyTimer: NodeJS.Timeout | null = null;
  let thinkTimer: NodeJS.Timeout | null = null;

  const stopReply = () => {
    if (replyTimer) clearInterval(replyTimer);
    replyTimer = null;
  };
  const reply = (ms: number) => {
    const audio = tone(ms);
    let offset = 0;
    replyTimer = setInterval(() => {
      if (offset >= audio.length || conn.closeCode !== null) return stopReply();
      conn.sendMedia(audio.subarray(offset, offset + 160));
      offset += 160;
    }, 20);
  };
  if (greetingMs) conn.waitFor((r) => r.msg.event === "start").then(() => reply(greetingMs));

  conn.ws.on("message", (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.event !== "media") return;
    const voiced = isVoiced(payloadOf({ at: 0, msg }));
    if (voiced) {
      voicedRun++;
      silentRun = 0;
      utteranceFrames++;
      if (thinkTimer) clearTimeout(thinkTimer);
      thinkTimer = null;
      if (replyTimer && voicedRun >= 3) {
        stopReply();
        conn.sendClear();
      }
    } else {
      voicedRun = 0;
      silentRun++;
      if (utteranceFrames > 0 && silentRun * 20 >= END_OF_SPEECH_SILENCE_MS) {
        const long = utteranceFrames * 20 >= 700;
        utteranceFrames = 0;
        thinkTimer = setTimeout(() => reply(long ? LONG_REPLY_MS : REPLY_MS), THINK_MS);
      }
    }
  });
}
