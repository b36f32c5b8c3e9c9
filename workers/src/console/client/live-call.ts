// A call's page while the call runs: the call's live feed (GET /v1/calls/{id}/live, a WebSocket authenticated by
// the session cookie) adds each turn as it happens, with its waterfall, and lists the call's actions. When the call
// ends the page reloads once, to show the record as stored.

type Waterfall = {
  speechEndAt?: number;
  sttFinalAt?: number;
  llmRequestAt?: number;
  llmFirstTokenAt?: number;
  ttsFirstByteAt?: number;
  firstAudioOutAt?: number;
  firstAudioMs?: number;
  platformOverheadMs?: number;
};
type TurnEvent = {
  type: "turn";
  index: number;
  userText: string;
  assistantText: string;
  interrupted: boolean;
  tools: { name: string; ok: boolean; ms: number }[];
  lines?: { source: string; text: string }[];
  waterfall: Waterfall;
};
type Action = { type: string; ok?: boolean; at: number; detail?: string };
type LiveMessage =
  | { type: "snapshot"; snapshot: { state: string; actions?: Action[] } }
  | { type: "state"; state: string }
  | { type: "event"; event: TurnEvent | { type: "call.ended" | "call.started" | "action"; action?: { type: string } } }
  | { type: "action"; entry: Action };

const SEGMENTS = ["stt", "turn", "llm", "tts", "platform"] as const;
const LABELS = { stt: "STT", turn: "Turn", llm: "LLM", tts: "TTS", platform: "Platform" };

function segments(w: Waterfall): Record<(typeof SEGMENTS)[number], number> {
  const span = (a?: number, b?: number) => (a !== undefined && b !== undefined && b >= a ? b - a : 0);
  const req = w.llmRequestAt ?? w.sttFinalAt;
  return {
    stt: span(w.speechEndAt, w.sttFinalAt),
    turn: span(w.sttFinalAt, req),
    llm: span(req, w.llmFirstTokenAt),
    tts: span(w.llmFirstTokenAt, w.ttsFirstByteAt),
    platform: span(w.ttsFirstByteAt, w.firstAudioOutAt),
  };
}

function el(tag: string, className: string, text?: string): HTMLElement {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

export function bindLiveCall(root: ParentNode = document): void {
  const card = root.querySelector<HTMLElement>("[data-live-call]");
  if (!card) return;
  const callId = card.dataset.liveCall ?? "";
  const scale = Number(card.dataset.scale) || 2000;
  const wasLive = card.dataset.live === "yes";
  const transcript = document.querySelector<HTMLUListElement>("[data-transcript]");
  const actions = document.querySelector<HTMLUListElement>("[data-actions]");
  const state = card.querySelector<HTMLElement>("[data-live-state]");
  const pill = document.querySelector<HTMLElement>("[data-call-status]");

  const renderActions = (list: Action[]) => {
    if (!actions) return;
    actions.replaceChildren(
      ...(list.length === 0
        ? [el("li", "", "No actions.")]
        : list.map((a) =>
            el(
              "li",
              "",
              `${new Date(a.at).toISOString().slice(11, 19)} ${a.type}${a.ok === false ? " (refused)" : ""}${a.detail ? `: ${a.detail}` : ""}`,
            ),
          )),
    );
  };

  const addTurn = (t: TurnEvent) => {
    if (!transcript) return;
    document.querySelector("[data-no-turns]")?.remove();
    if (t.userText.trim() && !transcript.querySelector(`[data-turn="${t.index}-caller"]`)) {
      const li = el("li", "caller");
      li.dataset.turn = `${t.index}-caller`;
      li.append(el("div", "who", "Caller"), el("div", "", t.userText));
      transcript.append(li);
    }
    if (transcript.querySelector(`[data-turn="${t.index}-agent"]`)) return;
    const li = el("li", `agent${t.interrupted ? " interrupted" : ""}`);
    li.dataset.turn = `${t.index}-agent`;
    li.append(el("div", "who", t.index === 0 ? "Agent · greeting" : "Agent"));
    if (t.interrupted) li.append(el("div", "heard-mark", "Interrupted: the caller heard only this much"));
    // As the server-rendered page shows it (pages/calls.ts): the words, then the platform's own lines, each once.
    const lines = t.lines ?? [];
    if (lines.length === 0 || t.assistantText !== lines.map((l) => l.text).join(" "))
      li.append(el("div", "", t.assistantText || "(nothing was heard)"));
    for (const l of lines) {
      const line = el("div", "spoken-line");
      line.dataset.spokenLine = l.source;
      line.append(el("span", "line-source", l.source[0]?.toUpperCase() + l.source.slice(1)), ` ${l.text}`);
      li.append(line);
    }
    if (t.tools.length > 0) {
      li.append(
        el(
          "div",
          "muted",
          `Tools: ${t.tools.map((x) => `${x.name} ${x.ok ? "✓" : "✗"} ${Math.round(x.ms)} ms`).join(", ")}`,
        ),
      );
    }
    if (t.index > 0) {
      const parts = segments(t.waterfall);
      const total = SEGMENTS.reduce((a, k) => a + parts[k], 0);
      const bar = el("div", "waterfall");
      bar.style.width = `${Math.max(4, Math.min(100, (total / scale) * 100)).toFixed(1)}%`;
      bar.setAttribute("role", "img");
      bar.dataset.testid = "waterfall";
      for (const k of SEGMENTS) {
        if (parts[k] <= 0) continue;
        const s = el("span", `w-${k}`);
        s.style.width = `${((parts[k] / Math.max(1, total)) * 100).toFixed(2)}%`;
        bar.append(s);
      }
      const numbers = el(
        "div",
        "muted",
        `${t.waterfall.firstAudioMs !== undefined ? `${Math.round(t.waterfall.firstAudioMs)} ms to first audio` : "not measured"} · ${SEGMENTS.map((k) => `${LABELS[k]} ${Math.round(parts[k])}`).join(" · ")}`,
      );
      const row = el("div", "waterfall-row");
      row.dataset.testid = "waterfall";
      row.append(bar, numbers);
      li.append(row);
    }
    transcript.append(li);
  };

  let actionList: Action[] = [];
  const ws = new WebSocket(`${location.origin.replace(/^http/, "ws")}/v1/calls/${encodeURIComponent(callId)}/live`);
  ws.onmessage = (e: MessageEvent<string>) => {
    const m = JSON.parse(e.data) as LiveMessage;
    if (m.type === "snapshot") {
      actionList = m.snapshot.actions ?? [];
      renderActions(actionList);
      if (state && wasLive) state.textContent = `live: ${m.snapshot.state}`;
      // Rendered as live, but the ledger says it is over: the stored record is catching up; look again shortly.
      if (wasLive && m.snapshot.state === "ended") setTimeout(() => location.reload(), 2500);
    } else if (m.type === "action") {
      actionList = [...actionList, m.entry];
      renderActions(actionList);
    } else if (m.type === "state") {
      if (state) state.textContent = m.state === "ended" ? "the call has ended" : `live: ${m.state}`;
      if (pill && m.state !== "ended") pill.textContent = "in progress";
      // The stored record (status, duration, every turn) is what the page shows once the outbox has written it.
      if (m.state === "ended" && wasLive) setTimeout(() => location.reload(), 2500);
    } else if (m.type === "event" && m.event.type === "turn") addTurn(m.event as TurnEvent);
  };
  ws.onerror = () => renderActions(actionList);
  ws.onclose = () => {
    if (actions && actionList.length === 0 && actions.textContent?.includes("Loading")) renderActions([]);
  };
}
