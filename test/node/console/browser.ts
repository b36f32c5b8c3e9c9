// Shared by the console's browser suites: Debian's Chromium driven by playwright-core (no browser download), with
// a fake microphone that plays an espeak-ng recording of the caller's line, and screenshots at desktop and phone
// width written under test-results/console/ (and, with CONSOLE_DOC_SHOTS=1, the desktop ones into docs/console/).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { REPO_ROOT } from "../../../scripts/platform/processes.ts";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SHOTS_DIR = path.join(REPO_ROOT, "test-results/console");
const DOC_SHOTS_DIR = path.join(REPO_ROOT, "docs/console");

/** The caller's line as a WAV Chromium can loop: espeak-ng, 48 kHz mono, 4 s of silence before it (the greeting plays first) and 6 s after (room for the answer before the line repeats). */
export function callerWav(dir: string, text: string): string {
  const raw = path.join(dir, "caller-raw.wav");
  const out = path.join(dir, "caller.wav");
  execFileSync("espeak-ng", ["-w", raw, text]);
  execFileSync("sox", [raw, "-r", "48000", "-c", "1", out, "pad", "4", "6"]);
  return out;
}

export async function launch(fakeMicWav: string): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (see .ci/run)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      `--use-file-for-fake-audio-capture=${fakeMicWav}`,
      "--autoplay-policy=no-user-gesture-required",
      "--no-sandbox",
    ],
  });
}

export async function desktopContext(browser: Browser, baseURL: string): Promise<BrowserContext> {
  return browser.newContext({ baseURL, viewport: { width: 1200, height: 800 }, permissions: ["microphone"] });
}

export async function phoneContext(browser: Browser, baseURL: string): Promise<BrowserContext> {
  return browser.newContext({
    baseURL,
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
    isMobile: true,
    hasTouch: true,
  });
}

/** The shots docs/console.md shows (regenerate with CONSOLE_DOC_SHOTS=1); the rest stay test artifacts. */
const DOC_SHOTS = new Set([
  "sign-in-desktop",
  "agents-desktop",
  "agent-validation-desktop",
  "talk-to-agent-desktop",
  "call-live-desktop",
  "call-desktop",
  "calls-desktop",
  "numbers-desktop",
  "consent-desktop",
  "keys-desktop",
  "team-desktop",
  "usage-charts-desktop",
  "agent-phone",
  "call-phone",
]);
/** Docs' copies stop at this height, to keep the committed images small. */
const DOC_MAX_HEIGHT = 1100;

/** A full-page screenshot as a test artifact (and, with CONSOLE_DOC_SHOTS=1, the docs' copy). */
export async function shoot(page: Page, name: string, width: "desktop" | "phone"): Promise<string> {
  mkdirSync(SHOTS_DIR, { recursive: true });
  const file = path.join(SHOTS_DIR, `${name}-${width}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (process.env.CONSOLE_DOC_SHOTS === "1" && DOC_SHOTS.has(`${name}-${width}`)) {
    mkdirSync(DOC_SHOTS_DIR, { recursive: true });
    const size = await page.evaluate(() => ({
      width: window.innerWidth,
      height: document.documentElement.scrollHeight,
    }));
    await page.screenshot({
      path: path.join(DOC_SHOTS_DIR, `${name}-${width}.png`),
      fullPage: true,
      clip: { x: 0, y: 0, width: size.width, height: Math.min(size.height, DOC_MAX_HEIGHT) },
    });
  }
  return file;
}

/** Nothing the page loaded came from another origin (every request is recorded from the context's start). */
export function recordOrigins(context: BrowserContext): Set<string> {
  const origins = new Set<string>();
  context.on("request", (request) => {
    const url = new URL(request.url());
    if (url.protocol.startsWith("http")) origins.add(url.origin);
  });
  return origins;
}
