// POST /v1/speak: text in, the whole audio back in one response (raw or WAV), after the profile's first-byte delay.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { z } from "zod";
import { wavHeader } from "./audio.ts";
import { BodyTooLarge, readBody, sendError, sleep } from "./http.ts";
import { credentialAccepted, INVALID_AUTH, parseSpeakQuery, readCredential } from "./params.ts";
import { SPEAK_TEXT_LIMIT } from "./speak.ts";
import type { Synthesizer } from "./synth.ts";

export interface RestSpeakOptions {
  apiKeys: string[] | undefined;
  synth: Synthesizer;
  ttsFirstByteMs: number;
}

export async function handleRestSpeak(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  requestId: string,
  opts: RestSpeakOptions,
): Promise<void> {
  const started = performance.now();
  const cred = readCredential(req.headers.authorization, undefined);
  if (!credentialAccepted(cred, opts.apiKeys)) {
    req.resume();
    sendError(res, INVALID_AUTH, requestId);
    return;
  }
  const params = parseSpeakQuery(url.searchParams, "rest");
  if (!params.ok) {
    req.resume();
    sendError(res, params.error, requestId);
    return;
  }
  let text: string;
  try {
    const raw = await readBody(req, 256 * 1024);
    const body = z.object({ text: z.string() }).safeParse(JSON.parse(raw.toString("utf8")));
    if (!body.success) throw new Error("bad body");
    text = body.data.text;
  } catch (err) {
    const tooLarge = err instanceof BodyTooLarge;
    sendError(
      res,
      {
        status: tooLarge ? 413 : 400,
        errCode: tooLarge ? "PAYLOAD_TOO_LARGE" : "INVALID_REQUEST_BODY",
        errMsg: tooLarge ? "Request body too large." : 'Body must be JSON {"text": string}.',
      },
      requestId,
    );
    return;
  }
  if (text.trim().length === 0 || text.length > SPEAK_TEXT_LIMIT) {
    sendError(
      res,
      {
        status: 400,
        errCode: "INVALID_REQUEST_BODY",
        errMsg:
          text.trim().length === 0
            ? "Text must not be empty."
            : `Text is ${text.length} characters; the limit is ${SPEAK_TEXT_LIMIT}.`,
      },
      requestId,
    );
    return;
  }
  const c = params.config;
  const audio = await opts.synth.synthesize(text, c.model, c.encoding, c.sampleRate, c.speed);
  await sleep(started + opts.ttsFirstByteMs - performance.now());
  const body =
    c.container === "wav" ? Buffer.concat([wavHeader(audio.length, c.sampleRate, c.encoding), audio]) : audio;
  res.writeHead(200, {
    "content-type": c.container === "wav" ? "audio/wav" : "application/octet-stream",
    "content-length": body.length,
    "dg-request-id": requestId,
    "dg-model-name": c.model,
    "dg-model-uuid": randomUUID(),
    "dg-char-count": String(text.length),
  });
  res.end(body);
}
