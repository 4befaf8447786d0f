/**
 * 7. The job console's first load, in headless Chromium on this machine: the bytes a browser
 * receives (index.html, scripts and styles, compressed as served) and the time from navigation to
 * an interactive page (the Run button enabled, i.e. React rendered and the server answered the
 * console's first query), against a baseline measured in the same run: a bare page with one
 * button, served by a bare node:http server. Cold caches: a new browser context per load.
 *
 *   BENCH_CONSOLE_LOADS   loads of each page (default 7; the median is reported)
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../test/helpers/browser.ts';
import { startServer } from '../test/helpers/server.ts';
import { envNumber } from './lib/env.ts';
import { printTable, type Verdict } from './lib/table.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const BARE = '<!doctype html><title>bare</title><button id="run" disabled>Run</button><script type="module">document.getElementById("run").disabled = false;</script>';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Milliseconds from navigation start until `ready` holds, and the bytes received, over `loads` cold loads. */
async function measure(browser: Browser, url: string, ready: string, loads: number): Promise<{ ms: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i <= loads; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    // Bytes as they came over the connection: compressed where the server compressed them.
    let wire = 0;
    cdp.on('Network.loadingFinished', (event: { encodedDataLength: number }) => (wire += event.encodedDataLength));
    await page.goto(url);
    await page.waitForSelector(ready, { timeout: 30_000 });
    const ms = await page.evaluate(() => performance.now());
    if (i > 0) times.push(ms); // the first load warms the server and the OS caches
    bytes = wire;
    await context.close();
  }
  return { ms: median(times), bytes };
}

export async function run(): Promise<Verdict[]> {
  const loads = envNumber('BENCH_CONSOLE_LOADS', 7);
  console.log(`\n## 7. the console's first load: ${loads} cold loads each, median`);
  if (!fs.existsSync(path.join(ROOT, 'console/dist/index.html'))) {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-console.ts')], { stdio: 'inherit' });
  }
  const bare = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(BARE));
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const server = await startServer();
  const browser = await launchBrowser();
  try {
    const base = await measure(browser, `http://127.0.0.1:${(bare.address() as AddressInfo).port}/`, '#run:enabled', loads);
    const consolePage = await measure(browser, `${server.app.url}/`, 'button:text("Run"):enabled', loads);
    printTable(
      'Navigation start → interactive (Run enabled), and the bytes on the wire (compressed as served):',
      ['page', 'median ms', 'bytes on the wire', 'ratio to the bare page'],
      [
        ['bare page (node:http, one button)', base.ms.toFixed(0), base.bytes, '1.00'],
        ['jobql console (/)', consolePage.ms.toFixed(0), consolePage.bytes, (consolePage.ms / base.ms).toFixed(2)],
      ],
    );
    return [
      {
        bench: 'console',
        target: 'informational: first load bytes and time to interactive',
        measured: `${(consolePage.bytes / 1024).toFixed(1)} KiB on the wire, interactive in ${consolePage.ms.toFixed(0)} ms (bare page ${base.ms.toFixed(0)} ms)`,
        met: null,
      },
    ];
  } finally {
    await browser.close();
    await server.stop();
    await new Promise((resolve) => bare.close(resolve));
  }
}

if (import.meta.main) await run();
