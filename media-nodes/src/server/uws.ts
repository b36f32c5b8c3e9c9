// Loads uWebSockets.js and proves it is the native build. The package installed on Node 20 is an alias
// that, when its native binary fails to load (or UWS_USE_FALLBACK is set), silently falls back to a
// JavaScript shim built on `ws`: same API, a fraction of the capacity. A media node sized for hundreds
// of calls per core must not run on that by accident, so the node refuses unless told otherwise.
import { createRequire } from "node:module";
import path from "node:path";

export type Uws = typeof import("uWebSockets.js");

export class UwsFallbackError extends Error {
  constructor() {
    super(
      "uWebSockets.js loaded its slow JavaScript fallback instead of the native build (unsupported Node ABI or " +
        "UWS_USE_FALLBACK set); refusing to start. Install the native build for this Node version " +
        "(see docs/media-node.md) or set MEDIA_ALLOW_UWS_FALLBACK=1 to run degraded.",
    );
    this.name = "UwsFallbackError";
  }
}

export interface LoadedUws {
  uws: Uws;
  native: boolean;
}

const require = createRequire(import.meta.url);

/** True when the module resolved for uWebSockets.js is a compiled addon rather than the JS shim. */
function isNative(uws: Uws): boolean {
  const entry = require.resolve("uWebSockets.js");
  const packageDir = path.dirname(path.dirname(entry));
  const loaded = Object.keys(require.cache).filter((key) => key.startsWith(packageDir + path.sep));
  const shim = loaded.some((key) => key.includes(`${path.sep}dist${path.sep}index.js`));
  // The official build and the alias both export the addon's functions: App is native code in both.
  const appIsNative = Function.prototype.toString.call(uws.App).includes("[native code]");
  return appIsNative && !shim;
}

export function loadUws(opts: { allowFallback: boolean }): LoadedUws {
  const uws = require("uWebSockets.js") as Uws;
  const native = isNative(uws);
  if (!native && !opts.allowFallback) throw new UwsFallbackError();
  return { uws, native };
}
