/**
 * GraphiQL in a real browser (headless Chromium): served by jobql itself, nothing from a CDN, no
 * console errors under its Content-Security-Policy; it opens with a tab per root field, runs a
 * mutation, and shows a subscription's events over graphql-ws.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { GRAPHIQL_TABS } from '../../src/graphql/graphiql-examples.ts';
import { launchBrowser, outsideRequests } from '../helpers/browser.ts';
import { newApiKey } from '../helpers/auth.ts';
import { submit } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let browser: Browser;
before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A page that records every request it makes and every error it reports. */
async function open(url: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('websocket', (socket) => requests.push(socket.url()));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url);
  await page.locator('.graphiql-execute-button').waitFor({ timeout: 30_000 });
  return { page, requests, errors };
}

/** The text of the response pane once it contains `expected`. */
async function responseContaining(page: Page, expected: string): Promise<string> {
  const pane = page.locator('.graphiql-response');
  await pane.getByText(expected, { exact: false }).first().waitFor({ timeout: 20_000 });
  // The pane renders spaces as no-break spaces; compare plain text.
  return (await pane.innerText()).replace(/\s+/g, ' ');
}

test('GraphiQL loads from this server only, under its CSP, with a tab per root field', async () => {
  const response = await fetch(`${server.app.url}/graphql`, { headers: { accept: 'text/html' } });
  const policy = response.headers.get('content-security-policy') ?? '';
  assert.match(policy, /script-src 'self'(;|$)/, 'no inline or remote scripts');
  const html = await response.text();
  assert.doesNotMatch(html, /<script>(?!<\/script>)/, 'no inline script element');
  assert.doesNotMatch(html, /https?:\/\//, 'no absolute URL in the page');

  const { page, requests, errors } = await open(`${server.app.url}/graphql`);
  const tabs = await page.locator('.graphiql-tab').allInnerTexts();
  assert.deepEqual(
    tabs.map((t) => t.trim()),
    ['SubmitQuery', 'JobStatus', 'Job', 'Jobs', 'CancelJob', 'AttachQuery'],
  );
  assert.equal(GRAPHIQL_TABS.length, tabs.length);
  assert.deepEqual(outsideRequests(requests, server.app.url), [], 'nothing loaded from elsewhere');
  assert.deepEqual(errors, [], 'no console errors (a CSP violation would be one)');
  await page.close();
});

test('the SubmitQuery tab runs and answers a QUEUED job', async () => {
  const { page, errors } = await open(`${server.app.url}/graphql`);
  await page.locator('.graphiql-execute-button').click();
  const text = await responseContaining(page, '"status"');
  assert.match(text, /"status": "(QUEUED|RUNNING|SUCCESS)"/);
  assert.match(text, /"id": "[^"]+"/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a subscription in GraphiQL shows the job reaching SUCCESS over graphql-ws', async () => {
  const job = await submit(server.url, "select 'from graphiql' as greeting");
  // GraphiQL takes a document from ?query= (not variables), so the id is written into it.
  const query = `subscription { jobStatus(id: ${JSON.stringify(job.id)}) { sequence status } }`;
  const url = `${server.app.url}/graphql?query=${encodeURIComponent(query)}`;
  const { page, requests, errors } = await open(url);
  await page.locator('.graphiql-execute-button').click();
  const text = await responseContaining(page, 'SUCCESS');
  assert.match(text, /"status": "SUCCESS"/);
  assert.ok(
    requests.some((r) => r.startsWith(server.wsUrl)),
    'the subscription went over the WebSocket',
  );
  assert.deepEqual(errors, []);
  await page.close();
});

test('with auth on, GraphiQL (when enabled) asks for the header, refuses without it, and subscribes with it', async () => {
  const key = newApiKey('alice', false);
  const guarded = await startServer({ JOBQL_API_KEYS: key.entry, JOBQL_GRAPHIQL: 'true' });
  try {
    const job = await submit(guarded.url, "select 'with a token' as greeting", {}, key.key);
    const query = `subscription { jobStatus(id: ${JSON.stringify(job.id)}) { sequence status } }`;
    const { page, errors } = await open(`${guarded.app.url}/graphql?query=${encodeURIComponent(query)}`);
    await page.getByText('Headers', { exact: true }).click();
    const headers = page.locator('.graphiql-editor-tool');
    await headers.getByText('Bearer <your token>', { exact: false }).first().waitFor({ timeout: 10_000 });
    await page.locator('.graphiql-execute-button').click();
    assert.match(await responseContaining(page, 'UNAUTHENTICATED'), /"code": "UNAUTHENTICATED"/);

    // The header editor holds the real token now (the editor closes brackets as one types: the
    // rest of the line is deleted after the text goes in).
    await headers.locator('.monaco-editor').last().click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${key.key}` }));
    await page.keyboard.press('Shift+End');
    await page.keyboard.press('Delete');
    await page.locator('.graphiql-execute-button').click();
    assert.match(await responseContaining(page, 'SUCCESS'), /"status": "SUCCESS"/);
    // The browser logs each refused request (4xx) as a console error; nothing else may be there.
    assert.deepEqual(errors.filter((e) => !/Failed to load resource: the server responded with a status of 4/.test(e)), []);
    await page.close();
  } finally {
    await guarded.stop();
  }
});
