// What the simulated caller says, told to the Deepgram emulator for that call, so the recogniser "hears" the caller's
// own lines rather than its default script. The association is the one the real path already carries: the media
// node opens its recogniser stream with Deepgram's `tag` parameter set to the call's ID, and the caller learns that
// ID from the call itself (the `callId` <Parameter> of the edge's TwiML, or the call token's claims). Real Deepgram
// ignores the script and recognises the audio, which says the same words.

type Said = string | { audio?: Uint8Array; text?: string; name?: string };

/** The caller's lines, as text, in the order they will be spoken: each step's line, then its barge-in line. */
export function spokenLines(steps: readonly (string | { line: Said; bargeIn?: { line: Said } } | object)[]): string[] {
  const text = (u: Said): string => (typeof u === "string" ? u : (u.text ?? u.name ?? ""));
  const out: string[] = [];
  for (const step of steps) {
    if (typeof step === "string") out.push(step);
    else if ("line" in step) {
      const s = step as { line: Said; bargeIn?: { line: Said } };
      out.push(text(s.line));
      if (s.bargeIn) out.push(text(s.bargeIn.line));
    }
  }
  return out.filter((l) => l.trim().length > 0);
}

/**
 * The call's ID from the stream's parameters: `callId` as the edge's TwiML sends it, else read (not verified: the
 * node does that) from the claims of a `token` parameter, `v1.<kid>.<base64url(claims)>.<signature>`.
 */
export function callIdOf(parameters: Record<string, string>): string | undefined {
  if (parameters.callId) return parameters.callId;
  const claims = parameters.token?.split(".")[2];
  if (!claims) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(claims, "base64url").toString("utf8"));
    const id = parsed && typeof parsed === "object" && "callId" in parsed ? parsed.callId : undefined;
    return typeof id === "string" && id.length > 0 ? id : undefined;
  } catch {
    return undefined;
  }
}

export type ScriptOutcome = "set" | "no-emulator";

/** Puts `lines` in the emulator's script for `callId`; "no-emulator" when nothing answers there (real Deepgram). */
export async function setRecognizerScript(
  emulatorUrl: string,
  callId: string,
  lines: string[],
): Promise<ScriptOutcome> {
  let res: Response;
  try {
    res = await fetch(`${emulatorUrl.replace(/\/$/, "")}/__emulator/scripts/${encodeURIComponent(callId)}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ lines }),
      signal: AbortSignal.timeout(2_000),
    });
  } catch {
    return "no-emulator";
  }
  if (res.status === 404 || res.status === 405) return "no-emulator";
  if (!res.ok) throw new Error(`the Deepgram emulator refused the script (${res.status}): ${await res.text()}`);
  return "set";
}

/** Forgets the call's script once the call is over, so a long load run does not keep every call's lines. */
export async function clearRecognizerScript(emulatorUrl: string, callId: string): Promise<void> {
  await fetch(`${emulatorUrl.replace(/\/$/, "")}/__emulator/scripts/${encodeURIComponent(callId)}`, {
    method: "DELETE",
    signal: AbortSignal.timeout(2_000),
  }).catch(() => {});
}
