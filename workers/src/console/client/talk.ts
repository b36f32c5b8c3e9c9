// "Talk to this agent" on an agent's page: starts a web call through the tenant API with the console session
// (and the page's CSRF token), then shows the live transcript as the media node sends it.
import { WebCall, type WebCallTicket } from "./web-call.ts";

export const WORKLET_URL = "/console/assets/capture-worklet.js";

export function bindTalkPanels(root: ParentNode = document): void {
  for (const panel of root.querySelectorAll<HTMLElement>("[data-talk]")) bindTalk(panel);
}

function bindTalk(panel: HTMLElement): void {
  const $ = <T extends Element>(sel: string) => panel.querySelector<T>(sel);
  const startButton = $<HTMLButtonElement>("[data-talk-start]");
  const stopButton = $<HTMLButtonElement>("[data-talk-stop]");
  const status = $<HTMLElement>("[data-talk-status]");
  const transcript = $<HTMLUListElement>("[data-talk-transcript]");
  const level = $<HTMLElement>("[data-talk-level]");
  const link = $<HTMLElement>("[data-talk-link]");
  const version = $<HTMLSelectElement>("#talk-version");
  if (!startButton || !stopButton || !status || !transcript) return;
  let call: WebCall | undefined;

  const say = (text: string) => {
    status.textContent = text;
  };
  const line = (role: "user" | "assistant", text: string) => {
    const li = document.createElement("li");
    li.className = role === "user" ? "caller" : "agent";
    const who = document.createElement("div");
    who.className = "who";
    who.textContent = role === "user" ? "You" : "Agent";
    const body = document.createElement("div");
    body.textContent = text;
    li.append(who, body);
    transcript.append(li);
  };

  startButton.addEventListener("click", async () => {
    startButton.disabled = true;
    transcript.replaceChildren();
    say("Starting the call…");
    try {
      const res = await fetch("/v1/web-calls", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", "x-csrf-token": panel.dataset.csrf ?? "" },
        body: JSON.stringify({ agentId: panel.dataset.agentId, version: Number(version?.value) || undefined }),
      });
      const body = (await res.json()) as WebCallTicket & { title?: string; detail?: string };
      if (!res.ok) throw new Error(body.detail ?? body.title ?? `HTTP ${res.status}`);
      if (link) {
        link.replaceChildren(
          "Call ",
          Object.assign(document.createElement("a"), {
            href: `/console/calls/${body.callId}`,
            textContent: body.callId,
          }),
        );
      }
      panel.dataset.callId = body.callId;
      call = await WebCall.start(body, WORKLET_URL, {
        onStatus: (s, detail) => {
          if (s === "live") {
            say("Live: speak to the agent.");
            stopButton.hidden = false;
          } else if (s === "ended") {
            say(`Call ended${detail ? ` (${detail})` : ""}.`);
            stopButton.hidden = true;
            startButton.disabled = false;
            panel.dataset.ended = "yes";
          } else say("Connecting…");
        },
        onTranscript: line,
        onLevel: (v) => {
          if (level) level.style.width = `${Math.min(100, Math.round(v * 100))}%`;
        },
        onError: (e) => say(e.message),
      });
    } catch (error) {
      say(`Could not start the call: ${(error as Error).message}`);
      startButton.disabled = false;
    }
  });
  stopButton.addEventListener("click", () => call?.hangUp());
}
