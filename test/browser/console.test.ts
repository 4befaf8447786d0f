/**
 * The job console in a real browser (headless Chromium) against a real jobql: served by jobql
 * itself at `/`, nothing from elsewhere, no console errors under its Content-Security-Policy. It
 * submits with the keyboard, follows the job live over graphql-ws, pages through the result,
 * downloads it, cancels a long job, shows SQL errors by code, filters the history; with auth on it
 * asks for a token and says when one is refused; on a trusted-documents server it still works.
 *
 * Builds the console first (scripts/build-console.ts) when console/dist is missing or older than
 * its sources.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import { launchBrowser, outsideRequests } from '../helpers/browser.ts';
import { gqlData, waitForEnd as jobEnded } from '../helpers/client.ts';
import { type Issuer, jwtEnv, makeIssuer, newApiKey } from '../helpers/auth.ts';
import { startServer, type TestServer, tempDir } from '../helpers/server.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CONSOLE = path.join(ROOT, 'console');
const DIST = path.join(CONSOLE, 'dist');

/** The newest modification time under `dir` (skipping `skip`). */
function newest(dir: string, skip: string): number {
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (file === skip) continue;
    latest = Math.max(latest, entry.isDirectory() ? newest(file, skip) : fs.statSync(file).mtimeMs);
  }
  return latest;
}

function buildConsoleIfStale(): void {
  const index = path.join(DIST, 'index.html');
  if (fs.existsSync(index) && fs.statSync(index).mtimeMs >= newest(CONSOLE, DIST)) return;
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-console.ts')], { cwd: ROOT, stdio: 'inherit' });
}

/** The console's first load: index.html and every script and stylesheet it links, gzipped. */
function firstLoadGzipBytes(): number {
  const html = fs.readFileSync(path.join(DIST, 'index.html'), 'utf8');
  const linked = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => path.join(DIST, m[1] ?? ''));
  assert.ok(linked.length >= 2, 'index.html links a script and a stylesheet');
  return [Buffer.from(html), ...linked.map((file) => fs.readFileSync(file))].reduce((sum, body) => sum + gzipSync(body, { level: 9 }).length, 0);
}

interface Opened {
  page: Page;
  requests: string[];
  errors: string[];
  /** jobStatus events as they came over the WebSocket, in order. */
  frames: { sequence: number; status: string }[];
}

async function open(browser: Browser, url: string): Promise<Opened> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  const requests: string[] = [];
  const errors: string[] = [];
  const frames: Opened['frames'] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('websocket', (socket) => {
    requests.push(socket.url());
    socket.on('framereceived', ({ payload }) => {
      const message = JSON.parse(String(payload)) as { type: string; payload?: { data?: { jobStatus?: { sequence: number; status: string } } } };
      const event = message.type === 'next' ? message.payload?.data?.jobStatus : undefined;
      if (event) frames.push({ sequence: event.sequence, status: event.status });
    });
  });
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url);
  return { page, requests, errors, frames };
}

/** The editor form, found by its accessible name. */
const editor = (page: Page) => page.getByRole('form', { name: 'Run SQL' });

/** Submits `sql` (and a tag) from the editor with Ctrl+Enter. */
async function run(page: Page, sql: string, tag = ''): Promise<string> {
  const form = editor(page);
  await form.getByLabel('SQL').fill(sql);
  await form.getByLabel('Tag').fill(tag);
  const heading = page.getByRole('heading', { name: /^Job job_/ });
  const before = (await heading.count()) ? await heading.innerText() : '';
  await form.getByLabel('SQL').press('Control+Enter');
  await page.waitForFunction((previous) => {
    const text = document.querySelector('.job-head h2')?.textContent ?? '';
    return text.startsWith('Job job_') && text !== previous;
  }, before);
  return (await heading.innerText()).replace(/^Job /, '').trim();
}

/** The job's states as the console lists them: [sequence, status] in the order shown. */
async function timeline(page: Page): Promise<[number, string][]> {
  const steps = page.getByRole('list', { name: 'Status changes' }).locator('[data-sequence]');
  const shown: [number, string][] = [];
  for (const step of await steps.all()) {
    shown.push([Number(await step.getAttribute('data-sequence')), (await step.locator('.status').innerText()).trim()]);
  }
  return shown;
}

async function waitForStatus(page: Page, status: string, timeout = 30_000): Promise<void> {
  await page.getByRole('status').filter({ hasText: `Status: ${status}` }).waitFor({ timeout });
}

/** The history's job lines (normalized text), once there are as many as `patterns` and each matches its own. */
async function historyShows(page: Page, patterns: RegExp[]): Promise<string[]> {
  const items = page.getByRole('list', { name: 'Jobs' }).locator('.history-item');
  let lines: string[] = [];
  const deadline = Date.now() + 10_000;
  for (;;) {
    lines = (await items.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    if (lines.length === patterns.length && patterns.every((p, i) => p.test(lines[i] ?? ''))) return lines;
    if (Date.now() > deadline) assert.fail(`the history shows ${JSON.stringify(lines)}, not ${patterns.join(', ')}`);
    await page.waitForTimeout(50);
  }
}

let browser: Browser;
before(async () => {
  buildConsoleIfStale();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

describe('the console on an open server', () => {
  let server: TestServer;
  let opened: Opened;
  const ids: Record<string, string> = {};
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await opened?.page.close();
    await server?.stop();
  });

  test('is served at / under a strict policy, small, and loads nothing from elsewhere', async (t) => {
    const response = await fetch(`${server.app.url}/`);
    assert.equal(response.status, 200);
    const policy = response.headers.get('content-security-policy') ?? '';
    assert.match(policy, /script-src 'self'(;|$)/, 'no inline or remote scripts');
    assert.match(policy, /style-src 'self'(;|$)/, 'no inline styles');
    const html = await response.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script element');
    assert.doesNotMatch(html, /https?:\/\//, 'no absolute URL in the page');
    assert.doesNotMatch(html, /\sstyle=/, 'no style attribute');

    // Precompressed at build time, sent compressed to a browser that takes it.
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1] ?? '';
    const compressed = await fetch(`${server.app.url}${script}`, { headers: { 'accept-encoding': 'br, gzip' } });
    assert.equal(compressed.headers.get('content-encoding'), 'br');
    assert.match(compressed.headers.get('cache-control') ?? '', /immutable/);

    const bytes = firstLoadGzipBytes();
    t.diagnostic(`first load: ${(bytes / 1024).toFixed(1)} KiB gzipped (index.html + JS + CSS)`);
    assert.ok(bytes < 120 * 1024, `the first load stays under 120 KiB gzipped (is ${bytes})`);

    opened = await open(browser, `${server.app.url}/`);
    const { page } = opened;
    const form = editor(page);
    // Every field has a label.
    for (const label of ['SQL', 'Bindings (JSON array)', 'Tag', 'Timeout (s)']) await form.getByLabel(label).waitFor();
    const filter = page.getByRole('search', { name: 'Filter jobs' });
    await filter.getByLabel('Status').waitFor();
    await filter.getByLabel('Tag').waitFor();
    // Open mode: the token field is there, folded away.
    await page.getByText('Open server: no token needed').waitFor();
    assert.equal(await page.getByLabel('Token', { exact: true }).isVisible(), false);
  });

  test('a query submitted with Ctrl+Enter is followed live, in sequence order, to its result grid', async () => {
    const { page, frames } = opened;
    ids['grid'] = await run(page, "select range as n, 'x' || range as s from range(250)", 'grid');
    await waitForStatus(page, 'SUCCESS');
    // Every state, once each, by sequence: QUEUED (the submit's answer), RUNNING, SUCCESS.
    assert.deepEqual(await timeline(page), [
      [1, 'QUEUED'],
      [2, 'RUNNING'],
      [3, 'SUCCESS'],
    ]);
    // What came over the socket arrived in sequence order and ended with the terminal state.
    assert.ok(frames.length >= 1, 'events came over graphql-ws');
    const sequences = frames.map((f) => f.sequence);
    assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b));
    assert.deepEqual(frames.at(-1), { sequence: 3, status: 'SUCCESS' });

    // The grid loads its first page once SUCCESS shows: wait for it, then read its columns.
    await page.getByRole('columnheader').first().waitFor();
    const headers = (await page.getByRole('columnheader').allInnerTexts()).map((h) => h.replace(/\s+/g, ' ').trim());
    assert.deepEqual(headers, ['#', 'n BIGINT', 's VARCHAR']);
    await page.getByText('Rows 1–100 of 250').waitFor();
    const firstRow = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: '1', exact: true }) });
    assert.deepEqual(await firstRow.getByRole('cell').allInnerTexts(), ['0', 'x0']);

    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByText('Rows 101–200 of 250').waitFor();
    const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: '101', exact: true }) });
    assert.deepEqual(await row.getByRole('cell').allInnerTexts(), ['100', 'x100']);
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByText('Rows 201–250 of 250').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Next page' }).isDisabled(), true);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.getByText('Rows 101–200 of 250').waitFor();
  });

  test('each format downloads; the CSV holds the whole result', async () => {
    const { page } = opened;
    const downloads = page.getByRole('navigation', { name: 'Download the result' });
    for (const format of ['CSV', 'NDJSON', 'Arrow', 'Parquet']) {
      const link = downloads.getByRole('link', { name: format, exact: true });
      // The path, signed (its query) so that it needs no Authorization header.
      assert.ok((await link.getAttribute('href'))?.startsWith(`/jobs/${ids['grid']}/result.${format.toLowerCase()}?`));
    }
    const [download] = await Promise.all([page.waitForEvent('download'), downloads.getByRole('link', { name: 'CSV' }).click()]);
    assert.equal(download.suggestedFilename(), `${ids['grid']}.csv`);
    const csv = fs.readFileSync(await download.path(), 'utf8').trim().split(/\r?\n/);
    assert.equal(csv.length, 251);
    assert.equal(csv[0], 'n,s');
    assert.equal(csv[101], '100,x100');
  });

  test('a long job is followed while it runs, and cancelled to ABORTED', async () => {
    const { page } = opened;
    ids['long'] = await run(page, 'select sum(hash(range)) from range(10000000000)', 'long');
    await waitForStatus(page, 'RUNNING');
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await waitForStatus(page, 'ABORTED');
    const shown = await timeline(page);
    assert.deepEqual(
      shown.map(([, status]) => status),
      ['QUEUED', 'RUNNING', 'ABORTING', 'ABORTED'],
    );
    assert.deepEqual(
      shown.map(([sequence]) => sequence),
      [1, 2, 3, 4],
    );
    const alert = page.getByRole('alert').filter({ hasText: 'The job was cancelled' });
    await alert.getByText('QUERY_CANCELLED', { exact: true }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Cancel job' }).count(), 0);
  });

  test('an SQL error shows its code, SQLSTATE and message', async () => {
    const { page } = opened;
    ids['missing'] = await run(page, 'select * from no_such_table', 'broken');
    await waitForStatus(page, 'FAILED_WITH_ERROR');
    const alert = page.getByRole('alert').filter({ hasText: 'The job failed' });
    await alert.getByText('SQL_OBJECT_NOT_FOUND', { exact: true }).waitFor();
    assert.match(await alert.innerText(), /SQLSTATE\s+42P01/);
    assert.match(await alert.innerText(), /no_such_table/);
  });

  test('bad bindings are refused in the form; a request error shows its code', async () => {
    const { page } = opened;
    const form = editor(page);
    await form.getByLabel('SQL').fill('select ? as a');
    await form.getByLabel('Bindings (JSON array)').fill('{"not": "an array"}');
    await form.getByRole('button', { name: 'Run' }).click();
    await form.getByRole('alert').getByText('Bindings must be a JSON array').waitFor();
    assert.equal(await form.getByLabel('Bindings (JSON array)').getAttribute('aria-invalid'), 'true');
    await form.getByLabel('Bindings (JSON array)').fill('');
    await form.getByLabel('SQL').fill('   ');
    await form.getByLabel('SQL').press('Control+Enter');
    const refused = form.getByRole('alert').filter({ hasText: 'The job was not submitted' });
    await refused.getByText('BAD_USER_INPUT', { exact: true }).waitFor();
  });

  test('the history filters by status and by tag, and opens a job', async () => {
    const { page } = opened;
    const filter = page.getByRole('search', { name: 'Filter jobs' });
    const grid = /^SUCCESS .*select range as n, 'x' \|\| range as s from range\(250\) grid$/;
    const long = /^ABORTED .*select sum\(hash\(range\)\) from range\(10000000000\) long$/;
    const broken = /^FAILED_WITH_ERROR .*select \* from no_such_table broken$/;
    // Newest first.
    await historyShows(page, [broken, long, grid]);

    await filter.getByLabel('Status').selectOption('ABORTED');
    await historyShows(page, [long]);
    await filter.getByLabel('Status').selectOption('SUCCESS');
    await historyShows(page, [grid]);
    await filter.getByLabel('Tag').fill('long');
    await page.getByRole('list', { name: 'Jobs' }).getByText('No jobs match.').waitFor();
    await filter.getByLabel('Status').selectOption('');
    await historyShows(page, [long]);
    await filter.getByLabel('Tag').fill('grid');
    await historyShows(page, [grid]);

    // Opening it from the history: its state (terminal, from the subscription) and its result.
    await page.getByRole('list', { name: 'Jobs' }).getByRole('button').first().click();
    await page.getByRole('heading', { name: `Job ${ids['grid']}` }).waitFor();
    await waitForStatus(page, 'SUCCESS');
    await page.getByText('Rows 1–100 of 250').waitFor();
    assert.equal(await page.getByRole('list', { name: 'Jobs' }).getByRole('button').first().getAttribute('aria-current'), 'true');
  });

  test('nothing was loaded from elsewhere and nothing was logged as an error', () => {
    assert.deepEqual(outsideRequests(opened.requests, server.app.url), []);
    assert.ok(
      opened.requests.some((url) => url.startsWith(server.wsUrl)),
      'subscriptions went over the WebSocket',
    );
    assert.deepEqual(opened.errors, [], 'no console errors (a CSP violation would be one)');
  });
});

describe('the console on a server with auth on', () => {
  const key = newApiKey('console', false);
  let server: TestServer;
  before(async () => {
    // Download links that live 4 s: the console must renew them while the result is shown.
    server = await startServer({ JOBQL_API_KEYS: key.entry, JOBQL_DOWNLOAD_LINK_TTL_SECONDS: '4' });
  });
  after(async () => {
    await server?.stop();
  });

  test('asks for a token, says clearly when one is refused, and works with the right one', async () => {
    const { page, errors, requests } = await open(browser, `${server.app.url}/`);
    await page.getByRole('heading', { name: 'This server needs a token' }).waitFor();
    assert.equal(await editor(page).count(), 0, 'no editor before a token is accepted');

    await page.getByLabel('Token', { exact: true }).fill('jq_not-a-real-key');
    await page.getByLabel('Token', { exact: true }).press('Enter');
    await page.getByRole('alert').getByText(/^The token was refused: /).waitFor();
    await page.getByRole('alert').getByText('UNAUTHENTICATED', { exact: true }).waitFor();

    await page.getByLabel('Token', { exact: true }).fill(key.key);
    await page.getByRole('button', { name: 'Use token' }).click();
    await editor(page).waitFor();
    await page.getByText('Using a token').waitFor();
    await run(page, "select 'with a token' as greeting");
    await waitForStatus(page, 'SUCCESS');
    await page.getByText('Rows 1–1 of 1').waitFor();
    assert.deepEqual(await page.getByRole('row').nth(1).getByRole('cell').allInnerTexts(), ['with a token']);

    // A plain link downloads with no header (it is signed), and is renewed before it expires.
    const csvLink = page.getByRole('navigation', { name: 'Download the result' }).getByRole('link', { name: 'CSV' });
    const first = await csvLink.getAttribute('href');
    await page.waitForFunction(
      (href) => document.querySelector('.downloads a')?.getAttribute('href') !== href,
      first,
      { timeout: 10_000 },
    );
    await new Promise((resolve) => setTimeout(resolve, 1500)); // past the first link's expiry
    const [download] = await Promise.all([page.waitForEvent('download'), csvLink.click()]);
    assert.equal(fs.readFileSync(await download.path(), 'utf8').trim(), 'greeting\nwith a token');

    // The token lasts as long as the tab (sessionStorage): a reload needs no new one.
    assert.equal(await page.evaluate(() => sessionStorage.getItem('jobql.token')), key.key);
    await page.reload();
    await editor(page).waitFor();
    await page.getByRole('button', { name: 'Forget token' }).click();
    await page.getByRole('heading', { name: 'This server needs a token' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('jobql.token')), null);

    assert.deepEqual(outsideRequests(requests, server.app.url), []);
    // The browser logs each refused request (HTTP 401) as a console error; nothing else may be there.
    assert.deepEqual(
      errors.filter((e) => !/Failed to load resource: the server responded with a status of 401/.test(e)),
      [],
    );
    await page.close();
  });
});

describe('the console when a token expires mid-session', () => {
  let server: TestServer;
  let issuer: Issuer;
  before(async () => {
    issuer = await makeIssuer();
    server = await startServer(jwtEnv(issuer));
  });
  after(async () => {
    await server?.stop();
  });

  test('goes back to the sign-in with the server’s reason, instead of failing panel by panel', async () => {
    const { page } = await open(browser, `${server.app.url}/`);
    await page.getByRole('heading', { name: 'This server needs a token' }).waitFor();
    const expiresAt = Date.now() + 1000;
    await page.getByLabel('Token', { exact: true }).fill(await issuer.token('alice', { ttlSeconds: 1 }));
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.getByText('Using a token').waitFor();
    // A real wait: the token's expiry is the behaviour under test (exp in whole seconds, and the
    // server's 5 s of clock tolerance after it).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt + 6500 - Date.now())));
    await editor(page).getByLabel('SQL').fill('select 1');
    await editor(page).getByLabel('SQL').press('Control+Enter');
    await page.getByRole('heading', { name: 'This server needs a token' }).waitFor({ timeout: 15_000 });
    await page.getByRole('alert').getByText(/^The token was refused: /).waitFor();
    await page.close();
  });
});

describe('the console on a trusted-documents server', () => {
  let server: TestServer;
  before(async () => {
    // The operator's manifest trusts nothing of its own: only the console's documents (which the
    // server adds from console/src/gql/persisted-documents.json) may run.
    const manifest = path.join(tempDir('jobql-trusted-'), 'manifest.json');
    fs.writeFileSync(manifest, '{}');
    server = await startServer({ JOBQL_TRUSTED_DOCUMENTS: manifest });
  });
  after(async () => {
    await server?.stop();
  });

  test('runs its operations by hash: submit, follow, read the result', async () => {
    const { page, errors } = await open(browser, `${server.app.url}/`);
    await run(page, 'select 42 as answer');
    await waitForStatus(page, 'SUCCESS');
    await page.getByText('Rows 1–1 of 1').waitFor();
    assert.deepEqual(await page.getByRole('row').nth(1).getByRole('cell').allInnerTexts(), ['42']);
    // The server really refuses a document it was not given.
    const refused = await fetch(`${server.app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ jobs { nodes { id } } }' }),
    });
    assert.equal(((await refused.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code, 'PERSISTED_QUERY_NOT_FOUND');
    assert.deepEqual(errors, []);
    await page.close();
  });
});

describe('the console when its socket drops mid-job', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.stop();
  });

  test('resubscribes after the last sequence it saw: the states missed meanwhile are listed, none twice, no gap', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    // Every WebSocket of the page goes through this proxy: it records what the page subscribes
    // with and what each connection brings, cuts the first at the test's word, and holds the
    // next one back until the job has moved on without the page.
    const subscribed: { connection: number; variables: Record<string, unknown> }[] = [];
    const received: { connection: number; sequence: number; status: string }[] = [];
    const reconnect = Promise.withResolvers<void>();
    const reconnecting = Promise.withResolvers<void>();
    let first: WebSocketRoute | null = null;
    let connections = 0;
    await page.routeWebSocket(/\/graphql$/, async (ws) => {
      const connection = ++connections;
      const toServer: (string | Buffer)[] = [];
      let upstream: WebSocketRoute | null = null;
      ws.onMessage((message) => {
        const parsed = JSON.parse(String(message)) as { type: string; payload?: { variables?: Record<string, unknown> } };
        if (parsed.type === 'subscribe' && parsed.payload?.variables && 'afterSequence' in parsed.payload.variables) {
          subscribed.push({ connection, variables: parsed.payload.variables });
        }
        if (upstream) upstream.send(message);
        else toServer.push(message);
      });
      if (connection === 1) first = ws;
      else {
        reconnecting.resolve();
        await reconnect.promise;
      }
      upstream = ws.connectToServer();
      upstream.onMessage((message) => {
        const parsed = JSON.parse(String(message)) as {
          type: string;
          payload?: { data?: { jobStatus?: { kind: string; sequence: number; status: string } } };
        };
        const event = parsed.type === 'next' ? parsed.payload?.data?.jobStatus : undefined;
        // Progress updates repeat the current sequence by design; the history is the transitions.
        if (event?.kind === 'TRANSITION') received.push({ connection, sequence: event.sequence, status: event.status });
        ws.send(message);
      });
      for (const message of toServer.splice(0)) upstream.send(message);
    });
    await page.goto(`${server.app.url}/`);

    const id = await run(page, 'select sum(hash(range)) from range(10000000000)', 'dropped');
    await waitForStatus(page, 'RUNNING');
    assert.ok(first, 'the page opened its socket through the proxy');
    // As a network drop would: graphql-ws retries (4499 is not one of its fatal codes).
    await (first as WebSocketRoute).close({ code: 4499, reason: 'cut by the test' });
    await reconnecting.promise;
    // While the page is away: cancelled, ABORTING, then ABORTED.
    await gqlData(server.url, 'mutation($id: ID!) { cancelJob(id: $id) { job { status } } }', { id });
    assert.equal((await jobEnded(server.url, id)).status, 'ABORTED');
    reconnect.resolve();

    await waitForStatus(page, 'ABORTED');
    assert.deepEqual(await timeline(page), [
      [1, 'QUEUED'],
      [2, 'RUNNING'],
      [3, 'ABORTING'],
      [4, 'ABORTED'],
    ]);
    const timelineList = page.getByRole('list', { name: 'Status changes' });
    assert.equal(await timelineList.locator('.step-previous, .step-submit, .missed').count(), 0, 'every state came as an event');
    assert.deepEqual(subscribed, [
      { connection: 1, variables: { id, afterSequence: 0 } },
      { connection: 2, variables: { id, afterSequence: 2 } },
    ]);
    assert.deepEqual(
      received.map(({ connection, sequence, status }) => `${connection}: ${sequence} ${status}`),
      ['1: 1 QUEUED', '1: 2 RUNNING', '2: 3 ABORTING', '2: 4 ABORTED'],
    );
    assert.deepEqual(errors, []);
    await page.close();
  });
});
