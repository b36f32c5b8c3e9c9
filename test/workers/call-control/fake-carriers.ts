// A stand-in for Twilio's and Telnyx's REST APIs inside workerd: a spy on the global fetch that answers requests
// to the test hosts (TWILIO_API_BASE, TELNYX_API_BASE) the way the real APIs do, records them, and lets every
// other request through.
import { vi } from "vitest";

export interface CarrierRequest {
  host: "twilio" | "telnyx";
  method: string;
  path: string;
  headers: Headers;
  /** Twilio: the form fields (repeated keys keep every value). Telnyx: the JSON body. */
  form: URLSearchParams;
  json: Record<string, unknown> | undefined;
}

export interface FakeCarriers {
  requests: CarrierRequest[];
  /** Make Twilio answer the next requests with this status and error body. */
  failTwilio(status: number, code: number, message: string): void;
  /** Make Telnyx answer the next `times` requests with this status (its error shape). */
  failTelnyx(status: number, times?: number): void;
  restore(): void;
}

export function fakeCarriers(): FakeCarriers {
  const original = globalThis.fetch;
  const requests: CarrierRequest[] = [];
  let failure: { status: number; code: number; message: string } | undefined;
  let telnyxFailure: { status: number; left: number } | undefined;
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.host !== "twilio.fake" && url.host !== "telnyx.fake") return original(input, init);
    const text = await request.text();
    const host = url.host === "twilio.fake" ? "twilio" : "telnyx";
    requests.push({
      host,
      method: request.method,
      path: url.pathname,
      headers: request.headers,
      form: new URLSearchParams(host === "twilio" ? text : ""),
      json: host === "telnyx" && text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
    });
    if (host === "telnyx" && telnyxFailure && telnyxFailure.left > 0) {
      telnyxFailure.left -= 1;
      return Response.json(
        { errors: [{ code: "90018", title: "Call has already ended", detail: "This call is no longer active." }] },
        { status: telnyxFailure.status },
      );
    }
    if (host === "telnyx") return Response.json({ data: { result: "ok" } });
    if (failure) {
      return Response.json(
        {
          code: failure.code,
          message: failure.message,
          more_info: `https://www.twilio.com/docs/errors/${failure.code}`,
          status: failure.status,
        },
        { status: failure.status },
      );
    }
    const kind = url.pathname.endsWith("/Calls.json") ? "CA" : "SM";
    const sid = `${kind}${crypto.randomUUID().replaceAll("-", "")}`;
    return Response.json({ sid, status: "queued" }, { status: 201 });
  });
  return {
    requests,
    failTwilio(status, code, message) {
      failure = { status, code, message };
    },
    failTelnyx(status, times = 1) {
      telnyxFailure = { status, left: times };
    },
    restore() {
      spy.mockRestore();
    },
  };
}
