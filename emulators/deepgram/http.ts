// Deepgram's HTTP manners, shared by its REST routes and refused WebSocket upgrades: the JSON error body with
// err_code, err_msg and request_id, the dg-request-id and dg-error headers, and bounded request bodies.
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { ApiError } from "./params.ts";

function errorBody(err: ApiError, requestId: string): string {
  return JSON.stringify({ err_code: err.errCode, err_msg: err.errMsg, request_id: requestId });
}

// Header values must be single-line Latin-1.
const headerSafe = (s: string): string => s.replace(/[^\x20-\x7e]/g, " ");

export function rejectUpgrade(socket: Socket, err: ApiError, requestId: string): void {
  const body = errorBody(err, requestId);
  socket.once("finish", () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? "Error"}\r\n` +
      "Content-Type: application/json\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `dg-request-id: ${requestId}\r\n` +
      `dg-error: ${headerSafe(err.errMsg)}\r\n` +
      "Connection: close\r\n\r\n" +
      body,
  );
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: ApiError, requestId: string): void {
  const text = errorBody(err, requestId);
  res.writeHead(err.status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "dg-request-id": requestId,
    "dg-error": headerSafe(err.errMsg),
  });
  res.end(text);
}

export class BodyTooLarge extends Error {}

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
