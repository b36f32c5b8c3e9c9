// Out-of-process control of a running Bedrock emulator (one started by `npm run emulators` or main.ts):
// the same faults, scripts and request log as the in-process handle, over the emulator's own port.
// It speaks HTTP/2 like the SDK does; the endpoints also answer HTTP/1.1, e.g.
//   curl -X POST localhost:8092/__emulator/faults -d '{"kind":"ThrottlingException","count":2}'
import http2 from "node:http2";
import type { BedrockFault, RecordedRequest, ScriptedReply } from "./server.ts";

export interface BedrockEmulatorControl {
  injectFault(fault: BedrockFault): Promise<void>;
  setScript(tag: string, replies: ScriptedReply[]): Promise<void>;
  requests(): Promise<RecordedRequest[]>;
  clearFaults(): Promise<void>;
  reset(): Promise<void>;
}

function call(baseUrl: string, method: string, path: string, body?: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(baseUrl);
    session.on("error", reject);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), "utf8");
    const stream = session.request({
      ":method": method,
      ":path": path,
      ...(payload ? { "content-type": "application/json", "content-length": String(payload.length) } : {}),
    });
    let status = 0;
    const chunks: Buffer[] = [];
    stream.on("response", (headers) => {
      status = Number(headers[":status"] ?? 0);
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", (error) => {
      session.close();
      reject(error);
    });
    stream.on("end", () => {
      session.close();
      const text = Buffer.concat(chunks).toString("utf8");
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = text;
      }
      if (status >= 200 && status < 300) resolve(parsed);
      else {
        const message =
          parsed && typeof parsed === "object" && "message" in parsed ? String(parsed.message) : `HTTP ${status}`;
        reject(new Error(`Bedrock emulator control ${method} ${path}: ${message}`));
      }
    });
    stream.end(payload);
  });
}

/** Control a Bedrock emulator at `url` (for example http://127.0.0.1:8092). */
export function controlBedrockEmulator(url: string): BedrockEmulatorControl {
  const base = new URL(url).origin;
  return {
    injectFault: async (fault) => {
      await call(base, "POST", "/__emulator/faults", fault);
    },
    setScript: async (tag, replies) => {
      await call(base, "PUT", `/__emulator/scripts/${encodeURIComponent(tag)}`, replies);
    },
    requests: async () => (await call(base, "GET", "/__emulator/requests")) as RecordedRequest[],
    clearFaults: async () => {
      await call(base, "DELETE", "/__emulator/faults");
    },
    reset: async () => {
      await call(base, "POST", "/__emulator/reset");
    },
  };
}
