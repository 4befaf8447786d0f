/**
 * The web origins that may call (JOBQL_CORS_ORIGINS): the same answer for /graphql, downloads and
 * WebSocket upgrades. A foreign origin is refused with a typed 403 (before the upgrade, for a
 * socket); an allowed one gets its CORS headers and its preflight answered.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.ts';
import { newApiKey } from '../helpers/auth.ts';
import { startServer, tempDir, type TestServer } from '../helpers/server.ts';

const QUERY = JSON.stringify({ query: '{ __typename }' });

/** A raw request, so Host and Origin can be anything (fetch forbids setting them). */
function call(server: TestServer, options: { method?: string; path?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(server.app.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: options.method ?? 'POST', path: options.path ?? '/graphql', headers: { 'content-type': 'application/json', ...options.headers } },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function upgrade(server: TestServer, origin: string): Promise<number | 'open'> {
  return new Promise((resolve) => {
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws', { origin });
    socket.once('open', () => {
      socket.close();
      resolve('open');
    });
    socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
  });
}

const code = (body: string): string | undefined => (JSON.parse(body) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code;

describe('open mode (the fresh clone)', () => {
  let server: TestServer;
  before(async () => (server = await startServer()));
  after(() => server?.stop());

  test('a page of another site is refused: POST, preflight, download and WebSocket', async () => {
    const evil = { origin: 'https://evil.example' };
    const post = await call(server, { headers: evil, body: QUERY });
    assert.equal(post.status, 403);
    assert.equal(code(post.body), 'FORBIDDEN');
    assert.equal(post.headers['access-control-allow-origin'], undefined);
    const preflight = await call(server, { method: 'OPTIONS', headers: { ...evil, 'access-control-request-method': 'POST' } });
    assert.equal(preflight.status, 403);
    assert.equal((await call(server, { method: 'GET', path: '/jobs/x/result.csv', headers: evil })).status, 403);
    assert.equal(await upgrade(server, evil.origin), 403);
  });

  test('a local frontend on any loopback port may call, and the server’s own pages may', async () => {
    const local = await call(server, { headers: { origin: 'http://localhost:5173' }, body: QUERY });
    assert.equal(local.status, 200);
    assert.equal(local.headers['access-control-allow-origin'], 'http://localhost:5173');
    const preflight = await call(server, { method: 'OPTIONS', headers: { origin: 'http://127.0.0.1:3000', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });
    assert.equal(preflight.status, 204);
    assert.match(String(preflight.headers['access-control-allow-headers']), /Authorization/);
    const own = await call(server, { headers: { origin: server.app.url }, body: QUERY });
    assert.equal(own.status, 200);
    assert.equal(await upgrade(server, 'http://localhost:8080'), 'open');
    assert.equal((await call(server, { body: QUERY })).status, 200, 'no Origin (curl, a server) passes');
  });

  test('DNS rebinding: a foreign name that resolves to loopback is refused, even as its own origin', async () => {
    const port = new URL(server.app.url).port;
    const rebound = await call(server, { headers: { host: `evil.example:${port}`, origin: `http://evil.example:${port}` }, body: QUERY });
    assert.equal(rebound.status, 403);
    assert.match(rebound.body, /loopback names only/);
  });
});

describe('with auth and JOBQL_CORS_ORIGINS', () => {
  let server: TestServer;
  const key = newApiKey('app', false);
  before(async () => (server = await startServer({ JOBQL_API_KEYS: key.entry, JOBQL_CORS_ORIGINS: 'https://app.example.com, https://*.corp.example' })));
  after(() => server?.stop());

  test('listed origins and one-label patterns may call; everything else, loopback included, is refused', async () => {
    for (const origin of ['https://app.example.com', 'https://team.corp.example']) {
      const answer = await call(server, { headers: { origin, authorization: `Bearer ${key.key}` }, body: QUERY });
      assert.equal(answer.status, 200, origin);
      assert.equal(answer.headers['access-control-allow-origin'], origin);
      assert.equal(answer.headers['vary'], 'Origin');
    }
    for (const origin of ['https://a.b.corp.example', 'http://app.example.com', 'http://localhost:5173', 'https://app.example.com.evil.example']) {
      assert.equal((await call(server, { headers: { origin }, body: QUERY })).status, 403, origin);
    }
    assert.equal(await upgrade(server, 'https://evil.example'), 403);
  });

  test('a download preflight is answered (not 405) and a download exposes its headers', async () => {
    const origin = 'https://app.example.com';
    const preflight = await call(server, { method: 'OPTIONS', path: '/jobs/x/result.csv', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
    assert.equal(preflight.status, 204);
    const download = await call(server, { method: 'GET', path: '/jobs/x/result.csv', headers: { origin, authorization: `Bearer ${key.key}` } });
    assert.equal(download.status, 404);
    assert.equal(download.headers['access-control-allow-origin'], origin, 'the refusal is readable by the allowed page');
    assert.match(String(download.headers['access-control-expose-headers']), /Content-Disposition/);
  });
});

test('a malformed JOBQL_CORS_ORIGINS entry stops the start', () => {
  assert.throws(() => loadConfig({ JOBQL_DATA_DIR: tempDir(), JOBQL_CORS_ORIGINS: 'https://app.example.com/path' }), /JOBQL_CORS_ORIGINS/);
});
