/** The browser of the browser tests: Debian's chromium driven by playwright-core, never a downloaded one. */
import { type Browser, chromium } from "playwright-core";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    // playwright-core passes its own fresh --user-data-dir; headless from `headless: true`.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    headless: true,
  });
}
