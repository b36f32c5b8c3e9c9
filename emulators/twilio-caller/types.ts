// What the simulated caller is told (options, script steps) and what it reports (per turn, per call): the public
// vocabulary of emulators/twilio-caller, shared by the speaker, the webhook follower and the CLI.

export type Provider = "twilio" | "telnyx";

export interface SimulatedCallerOptions {
  /** ws:// or wss:// URL of the media stream (the TwiML `<Stream url>`). */
  streamUrl: string;
  provider?: Provider;
  /** The TwiML `<Parameter name value>` pairs; they arrive in `start.customParameters`. */
  customParameters?: Record<string, string>;
  accountSid?: string;
  callSid?: string;
  streamSid?: string;
  /** Carried in the Telnyx `start` message. */
  from?: string;
  to?: string;
  /** Signs the WebSocket upgrade with X-Twilio-Signature (stream URL, empty params) as Twilio does. */
  authToken?: string;
  headers?: Record<string, string>;
  /** RMS on the 16-bit scale above which an agent frame counts as speech. */
  energyThreshold?: number;
  /** Silence after agent speech that ends its reply. */
  replySilenceMs?: number;
  /** How long to wait for the agent to start answering. */
  replyTimeoutMs?: number;
  /** Longest reply listened to before moving on. */
  maxReplyMs?: number;
  connectTimeoutMs?: number;
  /** Keep what is heard and said for `recording()` / `saveRecording()`. */
  record?: boolean;
  fixturesDir?: string;
  /**
   * What the carrier does when the server ends the stream while the caller is still on the line: Twilio runs the
   * TwiML after `<Connect>` (a `<Redirect>` may bring a new `<Connect><Stream>`). Resolves to the next stream to open,
   * or null when the call ends there. The caller keeps talking meanwhile (into nothing, as on a real line) and goes
   * on with its script on the new stream. Without it, the call ends with the stream.
   */
  onStreamEnd?: (ended: { closeCode: number; streamSid: string }) => Promise<NextStream | null>;
}

/** A stream to open after the previous one ended (the TwiML's next `<Connect><Stream>`). */
export interface NextStream {
  streamUrl: string;
  customParameters: Record<string, string>;
}

/**
 * What to say: a fixture name, a fixture's exact text, or any text (spoken by espeak-ng); or raw 8 kHz μ-law audio
 * with the words it says (`text`) and how to label it in reports (`name`, default the text).
 */
export type Utterance = string | { audio: Uint8Array; text?: string; name?: string };

export interface BargeIn {
  /** Start the barge-in line once the agent's reply has been arriving this long. */
  afterAgentAudioMs: number;
  line: Utterance;
}

export type CallerStep =
  | string
  | { line: Utterance; bargeIn?: BargeIn }
  | { dtmf: string; gapMs?: number }
  | { pauseMs: number };

export interface TurnReport {
  /** The fixture name or text as given. */
  line: string;
  /** The words spoken when known (fixture text or synthesised line). */
  text: string | null;
  /** Milliseconds since stream start: first frame of the line sent. */
  startedAt: number;
  /** Milliseconds since stream start: last frame of the line sent. */
  endOfSpeechAt: number;
  speechMs: number;
  /**
   * From end of speech to the first non-silent agent frame received. Negative when the agent started talking
   * before the caller finished; null when it never answered.
   */
  firstAgentAudioMs: number | null;
  /** From the first to the last non-silent agent frame heard (played) in this turn's reply. */
  agentAudioMs: number;
  /** This line was spoken over the agent's previous reply. */
  bargedIn: boolean;
  /** Barge-in lines: from the first frame of the line to the `clear` that stopped the agent; null if none came. */
  clearAfterMs: number | null;
  /** The agent's reply to this line was cut short by the next line (a barge-in). */
  interrupted: boolean;
  /** From the first to the last non-silent frame of this line sent: the caller's own speech onset. */
  speechOnsetMs: number | null;
  /**
   * Barge-in lines that stopped the agent: from the caller's speech onset to the moment the agent's audio went
   * quiet as the caller heard it (the start of the first silence of 200 ms or more, or the `clear`), the
   * time-to-silence; null if it never stopped.
   */
  agentStoppedAfterOnsetMs: number | null;
  /** Barge-in lines: agent speech the caller still heard after it first went quiet and before the `clear`. */
  agentHeardAfterStopMs: number;
  /** The longest silence the caller heard inside this turn's reply, between two of its voiced frames. */
  longestAgentSilenceMs: number;
  /** No agent speech within replyTimeoutMs. */
  timedOut: boolean;
}

export interface MarkRecord {
  name: string;
  /** Milliseconds since stream start. */
  receivedAt: number;
  echoedAt: number | null;
  /** Echoed because a `clear` discarded the audio before it. */
  cleared: boolean;
}

export interface CallReport {
  provider: Provider;
  callSid: string;
  streamSid: string;
  accountSid: string;
  startedAt: string;
  durationMs: number;
  /** The agent speaking first, before any caller line. */
  greeting: { firstAgentAudioMs: number | null; agentAudioMs: number } | null;
  turns: TurnReport[];
  marksEchoed: number;
  marks: MarkRecord[];
  clearsReceived: number;
  dtmfSent: number;
  framesSent: number;
  /** Frames sent more than one frame period after they were due (event-loop stalls). */
  lateFrames: number;
  maxFrameLatenessMs: number;
  agentAudioReceivedMs: number;
  endedBy: "caller" | "server" | null;
  closeCode: number | null;
  /** Every stream of the call in order (more than one when the carrier followed TwiML to a new stream). */
  streams: { streamSid: string; url: string; openedAt: number; closedAt: number | null; closeCode: number | null }[];
  errors: string[];
}

/** A failure to reach the stream, phrased for a person (no stack trace needed). */
export class CallerError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = "CallerError";
  }
}
