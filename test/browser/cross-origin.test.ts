/**
 * A single-page app on another origin, in a real browser: with its origin in JOBQL_CORS_ORIGINS it
 * reads GraphQL (with an Authorization header, so after a preflight) and opens a WebSocket; without
 * it the browser gets neither.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { newApiKey } from '../helpers/auth.ts';
import { launchBrowser } from '../helpers/browser.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

/** The app: asks the API given in the URL's hash, and writes what happened into the page. */
const APP = `<!doctype html><title>app</title><pre id="out">running</pre><script>
const [api, token] = decodeURIComponent(location.hash.slice(1)).split(' ');
const out = [];
fetch(api + '/graphql', {
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token },
  body: JSON.stringify({ query: '{ jobs(first: 1) { nodes { id } } }' }),
})
  .then((r) => r.json()).then((body) => out.push('http:' + (body.data ? 'ok' : 'error')), () => out.push('http:blocked'))
  .then(() => new Promise((resolve) => {
    const ws = new WebSocket(api.replace('http', 'ws') + '/graphql', 'graphql-transport-ws');
    ws.onopen = () => { out.push('ws:open'); ws.close(); resolve(); };
    ws.onerror = () => { out.push('ws:refused'); resolve(); };
  }))
  .then(() => { document.getElementById('out').textContent = out.join(' '); });
</script>`;

let page: Server;
let pageOrigin: string;
let browser: Browser;
const key = newApiKey('spa', false);
before(async () => {
  page = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(APP));
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
  pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await new Promise((resolve) => page?.close(resolve));
});

async function runApp(api: TestServer): Promise<string> {
  const tab = await browser.newPage();
  await tab.goto(`${pageOrigin}/#${encodeURIComponent(`${api.app.url} ${key.key}`)}`);
  const out = tab.locator('#out');
  await out.filter({ hasNotText: 'running' }).waitFor({ timeout: 15_000 });
  const text = await out.innerText();
  await tab.close();
  return text;
}

test('an allowed origin reads GraphQL after a preflight and opens a WebSocket', async () => {
  const api = await startServer({ JOBQL_API_KEYS: key.entry, JOBQL_CORS_ORIGINS: pageOrigin });
  try {
    assert.equal(await runApp(api), 'http:ok ws:open');
  } finally {
    await api.stop();
  }
});

test('an origin not in the list gets neither', async () => {
  const api = await startServer({ JOBQL_API_KEYS: key.entry, JOBQL_CORS_ORIGINS: 'https://app.example.com' });
  try {
    assert.equal(await runApp(api), 'http:blocked ws:refused');
  } finally {
    await api.stop();
  }
});
