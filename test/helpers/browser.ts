/**
 * Headless Chromium for the browser suites (`npm run test:browser`): Debian's `chromium` package
 * driven by playwright-core (no browser download). The flags keep Chromium off the network: this
 * machine, like many users', has no internet, and a page under test must load nothing from outside.
 */
import fs from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

const EXECUTABLE = process.env['JOBQL_TEST_CHROMIUM'] ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(EXECUTABLE)) {
    throw new Error(`No Chromium at ${EXECUTABLE}: install Debian's chromium package (apt-get install chromium) or set JOBQL_TEST_CHROMIUM`);
  }
  // playwright-core gives each launch a fresh, empty profile of its own.
  return chromium.launch({
    executablePath: EXECUTABLE,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Every request (HTTP or WebSocket) a page made that did not go to `origin`: a page must load nothing from a CDN. */
export function outsideRequests(requests: readonly string[], origin: string): string[] {
  const ws = origin.replace(/^http/, 'ws');
  return requests.filter((url) => !url.startsWith(origin) && !url.startsWith(ws) && !url.startsWith('data:') && !url.startsWith('blob:'));
}
