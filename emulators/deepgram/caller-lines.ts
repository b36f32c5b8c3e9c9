// Which line the caller is taken to be saying, for both recognisers: the next scripted line for the stream's tags,
// or else the next line of the default caller script. The default script is only a guess at what an unscripted
// caller says, so the audio may overrule it: a short burst is heard as a short line (the long one stays next), and
// long speech where a back-channel was due is heard as the next full sentence.
import { ScriptLine } from "./line.ts";
import { DEFAULT_CALLER_SCRIPT, expectedSeconds, type FormatOptions, type ScriptBook, tokenize } from "./script.ts";

const SHORT_LINE_S = 1.0;
const SHORT_BURST_S = 0.8;
const LONG_SPEECH_S = 1.5;

export class CallerLines {
  private defaultIndex = 0;
  private shortIndex = 0;
  private readonly shortLines: string[];

  constructor(
    private readonly scripts: ScriptBook,
    private readonly tags: readonly string[],
    /** The stream's formatting now (Flux may change numerals mid-stream). */
    private readonly format: () => FormatOptions,
  ) {
    this.shortLines = DEFAULT_CALLER_SCRIPT.filter((l) => expectedSeconds(tokenize(l, format())) <= SHORT_LINE_S);
  }

  /** The line the caller starts saying now. */
  next(): ScriptLine {
    const scripted = this.scripts.take(this.tags);
    if (scripted !== undefined) return new ScriptLine(scripted, "script", this.format());
    const text = DEFAULT_CALLER_SCRIPT[this.defaultIndex % DEFAULT_CALLER_SCRIPT.length] ?? "";
    this.defaultIndex++;
    return new ScriptLine(text, "default", this.format());
  }

  /**
   * Lets the audio overrule a default line nothing of which is committed yet: `segments` bursts of speech, `speechS`
   * seconds of it, `atPause` when judged at a pause or final. Returns whether the line was retargeted.
   */
  overrule(line: ScriptLine, segments: number, speechS: number, atPause: boolean): boolean {
    if (line.source !== "default" || line.committed > 0) return false;
    // Measured against the part due, so a line that opens with a short part ("um … let me think") keeps it.
    if (atPause && segments === 1 && speechS < SHORT_BURST_S && line.partExpectedS() > SHORT_LINE_S) {
      this.defaultIndex--;
      line.retarget(this.shortLines[this.shortIndex++ % this.shortLines.length] ?? "Okay.");
      return true;
    }
    if (line.expectedS <= SHORT_LINE_S && speechS > LONG_SPEECH_S) {
      for (let i = 0; i < DEFAULT_CALLER_SCRIPT.length; i++) {
        const next = DEFAULT_CALLER_SCRIPT[this.defaultIndex % DEFAULT_CALLER_SCRIPT.length] ?? "";
        this.defaultIndex++;
        if (expectedSeconds(tokenize(next, this.format())) > SHORT_LINE_S) {
          line.retarget(next);
          return true;
        }
      }
    }
    return false;
  }
}
