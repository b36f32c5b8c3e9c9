// A browser call to an AYBIZA agent over the media node's /v1/web socket (docs/media-node.md, "Browser protocol").
// One AudioContext does both directions, so the browser's echo canceller sees what it plays: the microphone
// (getUserMedia with echo cancellation and noise suppression) goes through an AudioWorklet that sends 20 ms of
// PCM16 at 16 kHz; the agent's 20 ms frames are scheduled back to back on the same context. `clear` drops
// everything scheduled and echoes the pending marks at once; other marks are echoed when the audio before them
// has played, which is how the media node knows what the caller actually heard.

export type WebCallTicket = { callId: string; url: string; token: string };

export interface WebCallEvents {
  onStatus?(status: "connecting" | "live" | "ended", detail?: string): void;
  onTranscript?(role: "user" | "assistant", text: string): void;
  /** Microphone level 0..1, about 20 times a second. */
  onLevel?(level: number): void;
  onError?(error: Error): void;
}

const SAMPLE_RATE = 16_000;
/** Scheduling slack so the first frames do not start in the past. */
const LEAD_S = 0.06;

export class WebCall {
  readonly ticket: WebCallTicket;
  #ctx: AudioContext | undefined;
  #ws: WebSocket | undefined;
  #stream: MediaStream | undefined;
  #playHead = 0;
  #sources = new Set<AudioBufferSourceNode>();
  #marks: { name: string; at: number }[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #ended = false;

  private constructor(
    ticket: WebCallTicket,
    readonly events: WebCallEvents,
  ) {
    this.ticket = ticket;
  }

  /** Starts the microphone and the socket; `workletUrl` is capture-worklet.js from the same bundle. */
  static async start(ticket: WebCallTicket, workletUrl: string, events: WebCallEvents = {}): Promise<WebCall> {
    const call = new WebCall(ticket, events);
    await call.#open(workletUrl);
    return call;
  }

  async #open(workletUrl: string): Promise<void> {
    this.events.onStatus?.("connecting");
    const ctx = new AudioContext({ latencyHint: "interactive" });
    this.#ctx = ctx;
    if (ctx.state === "suspended") await ctx.resume();
    this.#stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
    });
    await ctx.audioWorklet.addModule(workletUrl);
    const source = ctx.createMediaStreamSource(this.#stream);
    const capture = new AudioWorkletNode(ctx, "pcm16-capture", { numberOfInputs: 1, numberOfOutputs: 1 });
    // Pulled through a silent gain so the worklet runs on every render quantum.
    const mute = ctx.createGain();
    mute.gain.value = 0;
    source.connect(capture).connect(mute).connect(ctx.destination);
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);

    const ws = new WebSocket(this.ticket.url);
    ws.binaryType = "arraybuffer";
    this.#ws = ws;
    let ready = false;
    capture.port.onmessage = (e: MessageEvent<ArrayBuffer>) => {
      if (ready && ws.readyState === WebSocket.OPEN) ws.send(e.data);
    };
    ws.onopen = () => ws.send(JSON.stringify({ type: "start", token: this.ticket.token }));
    ws.onmessage = (e: MessageEvent<ArrayBuffer | string>) => {
      if (typeof e.data !== "string") {
        this.#play(e.data);
        return;
      }
      const m = JSON.parse(e.data) as {
        type: string;
        name?: string;
        role?: "user" | "assistant";
        text?: string;
        reason?: string;
      };
      if (m.type === "ready") {
        ready = true;
        this.events.onStatus?.("live");
      } else if (m.type === "mark" && m.name !== undefined) this.#marks.push({ name: m.name, at: this.#playHead });
      else if (m.type === "clear") this.#clear();
      else if (m.type === "transcript" && m.role && m.text !== undefined) this.events.onTranscript?.(m.role, m.text);
      else if (m.type === "end") this.#finish(m.reason ?? "ended");
    };
    ws.onclose = (e) => this.#finish(e.reason || `socket closed (${e.code})`);
    ws.onerror = () => this.events.onError?.(new Error("The call's connection failed."));

    this.#timer = setInterval(() => {
      const now = ctx.currentTime;
      while (this.#marks[0] && this.#marks[0].at <= now) this.#sendMark(this.#marks.shift()?.name ?? "");
      if (this.events.onLevel) {
        analyser.getFloatTimeDomainData(samples);
        let peak = 0;
        for (const s of samples) peak = Math.max(peak, Math.abs(s));
        this.events.onLevel(peak);
      }
    }, 20);
  }

  #play(data: ArrayBuffer): void {
    const ctx = this.#ctx;
    if (!ctx || data.byteLength < 2) return;
    const pcm = new Int16Array(data, 0, data.byteLength >> 1);
    const buffer = ctx.createBuffer(1, pcm.length, SAMPLE_RATE);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) channel[i] = (pcm[i] ?? 0) / 0x8000;
    const node = ctx.createBufferSource();
    node.buffer = buffer;
    node.connect(ctx.destination);
    const at = Math.max(this.#playHead, ctx.currentTime + LEAD_S);
    node.start(at);
    this.#playHead = at + buffer.duration;
    this.#sources.add(node);
    node.onended = () => this.#sources.delete(node);
  }

  #clear(): void {
    for (const node of this.#sources) {
      try {
        node.stop();
      } catch {
        // already stopped
      }
    }
    this.#sources.clear();
    this.#playHead = this.#ctx?.currentTime ?? 0;
    for (const mark of this.#marks.splice(0)) this.#sendMark(mark.name);
  }

  #sendMark(name: string): void {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify({ type: "mark", name }));
  }

  /** Hangs up: tells the media node, then releases the microphone and the audio context. */
  hangUp(): void {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify({ type: "stop" }));
    this.#finish("hung up");
  }

  #finish(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const track of this.#stream?.getTracks() ?? []) track.stop();
    // Let the last agent words finish before closing the context when the agent ended the call.
    const ctx = this.#ctx;
    const rest = ctx ? Math.max(0, this.#playHead - ctx.currentTime) : 0;
    setTimeout(() => {
      if (this.#ws && this.#ws.readyState <= WebSocket.OPEN) this.#ws.close(1000, "done");
      void ctx?.close();
    }, rest * 1000);
    this.events.onStatus?.("ended", reason);
  }
}

/** Asks an AYBIZA edge for a browser call with a publishable key (from a page on one of the key's origins). */
export async function requestWebCall(edgeUrl: string, publishableKey: string, agentId: string): Promise<WebCallTicket> {
  const res = await fetch(`${edgeUrl.replace(/\/$/, "")}/v1/web-calls`, {
    method: "POST",
    headers: { authorization: `Bearer ${publishableKey}`, "content-type": "application/json" },
    body: JSON.stringify({ agentId }),
  });
  const body = (await res.json()) as WebCallTicket & { detail?: string };
  if (!res.ok) throw new Error(body.detail ?? `The call could not start (HTTP ${res.status}).`);
  return body;
}
