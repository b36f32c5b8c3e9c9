// "Talk to this agent": the markup the bundled client (console/client/talk.ts) brings to life. It starts a web
// call through POST /v1/web-calls with the session and this page's CSRF token, then streams the microphone to
// the media node and plays the agent.
import { html } from "hono/html";
import type { Agent } from "./agents.ts";

export function talkPanel(agent: Agent, versions: { version: number; published: boolean }[], csrf: string) {
  const defaultVersion = agent.publishedVersion ?? agent.version;
  return html`<section class="card" data-talk data-agent-id="${agent.id}" data-csrf="${csrf}">
    <h2 style="margin-top:0">Talk to this agent</h2>
    <div class="talk">
      <label for="talk-version" style="margin:0">Version</label>
      <select id="talk-version" style="width:auto">
        ${(versions.length ? versions : [{ version: defaultVersion, published: true }]).map(
          (v) =>
            html`<option value="${v.version}" ${v.version === defaultVersion ? "selected" : ""}>v${v.version}${v.published ? " (published)" : ""}</option>`,
        )}
      </select>
      <button type="button" data-talk-start>Start call</button>
      <button type="button" data-talk-stop class="danger" hidden>Hang up</button>
      <span class="level" title="Microphone level"><i data-talk-level></i></span>
      <span data-talk-status class="muted" role="status">Uses your microphone; echo cancellation and noise suppression are on.</span>
    </div>
    <ul class="transcript" data-talk-transcript aria-live="polite"></ul>
    <p data-talk-link class="muted"></p>
  </section>`;
}
