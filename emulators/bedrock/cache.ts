// Prompt-cache accounting with cachePoint semantics. Claude sees a request as tools, then system, then
// messages (Anthropic's prompt-caching docs; Bedrock forwards in that order), so a cache point's prefix is
// every block before it in that order. Each prefix is identified by a running SHA-256 over the blocks.
//
// Per request, as the service bills it:
// - the longest prefix (at a cache point) cached for this model and not expired is a cache READ, and its
//   entry's TTL starts again;
// - from there up to the last cache point is a cache WRITE, stored under each cache point's prefix;
// - prefixes shorter than the model's minimum are neither read nor written;
// - everything after the last usable cache point is plain input.
// Tokens are estimated as UTF-8 bytes / 4 (text blocks count their text, other blocks their JSON), which
// is close enough for English prompts and keeps the numbers reproducible.
import { createHash, type Hash } from "node:crypto";
import type { Message, SystemBlock, Tool } from "./request-schema.ts";

export type CacheTtl = "5m" | "1h";

export interface CacheCheckpoint {
  /** Where the cache point sits: `toolConfig.tools.2`, `system.1`, `messages.4.content.1`. */
  at: string;
  /** Estimated tokens before this cache point. */
  prefixTokens: number;
  ttl: CacheTtl;
  /** hit: read from cache; written: stored now; too-short: under the model's minimum; covered: a later point was read. */
  status: "hit" | "written" | "too-short" | "covered";
}

export interface CacheAccounting {
  inputTokens: number;
  cacheReadInputTokens: number;
  cacheWriteInputTokens: number;
  /** Tokens written per TTL, as `usage.cacheDetails` reports them (1h before 5m). */
  cacheDetails: { ttl: CacheTtl; inputTokens: number }[];
  checkpoints: CacheCheckpoint[];
}

export function estimateTokens(bytes: number): number {
  return Math.ceil(bytes / 4);
}

interface Prefix {
  at: string;
  bytes: number;
  key: string;
  ttl: CacheTtl;
}

/** Walks the request in the order the model sees it, noting the prefix hash and size at each cache point. */
function prefixes(tools: Tool[], system: SystemBlock[], messages: Message[]): { points: Prefix[]; totalBytes: number } {
  const hash: Hash = createHash("sha256");
  const points: Prefix[] = [];
  let bytes = 0;
  const add = (tag: string, block: object) => {
    const serialized = "text" in block && typeof block.text === "string" ? block.text : JSON.stringify(block);
    // The tag keeps equal text in different places (system vs. a user message) from sharing a prefix.
    hash.update(`${tag}\u0000${serialized}\u0000`, "utf8");
    bytes += Buffer.byteLength(serialized, "utf8");
  };
  const point = (at: string, ttl: CacheTtl | undefined) => {
    points.push({ at, bytes, key: hash.copy().digest("hex"), ttl: ttl ?? "5m" });
  };
  tools.forEach((tool, i) => {
    if (tool.cachePoint) point(`toolConfig.tools.${i}`, tool.cachePoint.ttl);
    else add("tool", tool);
  });
  system.forEach((block, i) => {
    if (block.cachePoint) point(`system.${i}`, block.cachePoint.ttl);
    else add("system", block);
  });
  messages.forEach((message, i) => {
    message.content.forEach((block, j) => {
      if (block.cachePoint) point(`messages.${i}.content.${j}`, block.cachePoint.ttl);
      else add(message.role, block);
    });
  });
  return { points, totalBytes: bytes };
}

export class PromptCache {
  /** model ID + prefix hash → expiry (epoch ms). */
  private readonly entries = new Map<string, number>();

  constructor(
    /** Lifetime of a `5m` entry; a `1h` entry lives 12 times as long, so shortened test TTLs keep the ratio. */
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private ttlOf(ttl: CacheTtl): number {
    return ttl === "1h" ? this.ttlMs * 12 : this.ttlMs;
  }

  clear(): void {
    this.entries.clear();
  }

  account(
    modelId: string,
    minTokens: number,
    request: { tools: Tool[]; system: SystemBlock[]; messages: Message[] },
  ): CacheAccounting {
    const now = this.now();
    for (const [key, expires] of this.entries) if (expires <= now) this.entries.delete(key);

    const { points, totalBytes } = prefixes(request.tools, request.system, request.messages);
    const totalTokens = estimateTokens(totalBytes);
    const checkpoints: CacheCheckpoint[] = points.map((p) => ({
      at: p.at,
      prefixTokens: estimateTokens(p.bytes),
      ttl: p.ttl,
      status: "too-short",
    }));
    const eligible = points.map((p, i) => ({ p, i })).filter(({ p }) => estimateTokens(p.bytes) >= minTokens);

    let readIndex = -1;
    for (const { p, i } of eligible) if (this.entries.has(`${modelId}\u0000${p.key}`)) readIndex = i;
    const read = readIndex >= 0 ? estimateTokens(points[readIndex]?.bytes ?? 0) : 0;

    const details = new Map<CacheTtl, number>();
    let written = read;
    for (const { p, i } of eligible) {
      const entry = `${modelId}\u0000${p.key}`;
      const checkpoint = checkpoints[i];
      if (!checkpoint) continue;
      if (i < readIndex) {
        checkpoint.status = "covered";
        if (this.entries.has(entry)) this.entries.set(entry, now + this.ttlOf(p.ttl));
      } else if (i === readIndex) {
        checkpoint.status = "hit";
        this.entries.set(entry, now + this.ttlOf(p.ttl));
      } else {
        checkpoint.status = "written";
        const tokens = estimateTokens(p.bytes);
        details.set(p.ttl, (details.get(p.ttl) ?? 0) + (tokens - written));
        written = tokens;
        this.entries.set(entry, now + this.ttlOf(p.ttl));
      }
    }
    const write = written - read;
    return {
      inputTokens: Math.max(0, totalTokens - read - write),
      cacheReadInputTokens: read,
      cacheWriteInputTokens: write,
      cacheDetails: (["1h", "5m"] as const)
        .filter((ttl) => details.has(ttl))
        .map((ttl) => ({ ttl, inputTokens: details.get(ttl) ?? 0 })),
      checkpoints,
    };
  }
}
