import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT, UnsecuredJWT } from 'jose';
import WebSocket from 'ws';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { ADMIN_SCOPE, AUDIENCE, ISSUER, type Issuer, jwksServer, jwtEnv, makeIssuer, newApiKey } from '../helpers/auth.ts';
import { collect, gql, gqlData, submit, waitForEnd, wsClient } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const JOB = 'query($id: ID!) { job(id: $id) { id status } }';

/** Opens a raw graphql-transport-ws socket and sends connection_init; resolves with the close code or 'ack'. */
function initSocket(wsUrl: string, payload: unknown): Promise<{ socket: WebSocket; outcome: Promise<number | 'ack'> }> {
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
  const outcome = new Promise<number | 'ack'>((resolve) => {
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') resolve('ack');
    });
    socket.once('close', (code) => resolve(code));
  });
  return new Promise((resolve) =>
    socket.once('open', () => {
      socket.send(JSON.stringify({ type: 'connection_init', payload }));
      resolve({ socket, outcome });
    }),
  );
}

describe('open mode', () => {
  test('is the default, and refuses a non-loopback HOST unless told', () => {
    assert.equal(loadConfig({}).auth.jwt, null);
    assert.throws(() => loadConfig({ HOST: '0.0.0.0' }), (e: unknown) => e instanceof ConfigError && /JOBQL_ALLOW_OPEN_REMOTE/.test(e.message));
    assert.equal(loadConfig({ HOST: '0.0.0.0', JOBQL_ALLOW_OPEN_REMOTE: 'true' }).host, '0.0.0.0');
    assert.equal(loadConfig({}).introspection, true);
    assert.equal(loadConfig({}).graphiql, true);
  });

  test('refuses half a JWT configuration, and API keys that are not hashes', () => {
    assert.throws(() => loadConfig({ JOBQL_JWT_ISSUER: ISSUER }), /exactly one of JOBQL_JWT_JWKS_URL/);
    assert.throws(() => loadConfig({ JOBQL_JWT_JWKS_URL: 'https://x.test/jwks', JOBQL_JWT_ISSUER: ISSUER }), /JOBQL_JWT_AUDIENCE is required/);
    assert.throws(() => loadConfig({ JOBQL_API_KEYS: 'svc:plaintext-secret' }), /entry 1 is not name:sha256-hex/);
  });
});

describe('JWT and API keys', () => {
  let issuer: Issuer;
  let server: TestServer;
  let key: string;
  let adminKey: string;

  before(async () => {
    issuer = await makeIssuer();
    const service = newApiKey('etl', false);
    const admin = newApiKey('ops', true);
    key = service.key;
    adminKey = admin.key;
    server = await startServer(jwtEnv(issuer, { JOBQL_API_KEYS: `${service.entry},${admin.entry}` }));
  });
  after(() => server.stop());

  test('no token, a garbage token, an unknown API key: 401 UNAUTHENTICATED', async () => {
    for (const token of [undefined, 'garbage', 'jq_not-a-key', 'a.b.c']) {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query: '{ jobs { nodes { id } } }' }),
      });
      assert.equal(response.status, 401, `token ${token}`);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer');
      const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
      assert.equal(body.errors[0]?.extensions.code, 'UNAUTHENTICATED');
    }
  });

  test('tokens that must not pass: expired, wrong issuer, wrong audience, alg none, HS256 with the public key, another key', async () => {
    const now = Math.floor(Date.now() / 1000);
    const other = await makeIssuer();
    const bad = [
      await issuer.token('alice', { ttlSeconds: -60 }),
      await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('alice').setIssuer('https://evil.test/')
        .setAudience(AUDIENCE).setExpirationTime(now + 600).sign(issuer.privateKey),
      await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('alice').setIssuer(ISSUER)
        .setAudience('someone-else').setExpirationTime(now + 600).sign(issuer.privateKey),
      new UnsecuredJWT({ sub: 'alice' }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime(now + 600).encode(),
      await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setIssuer(ISSUER).setAudience(AUDIENCE)
        .setExpirationTime(now + 600).sign(new TextEncoder().encode(issuer.publicKeyPem)),
      await other.token('alice'),
      // No expiry at all: refused (a socket must be closable when its token ends).
      await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('alice').setIssuer(ISSUER)
        .setAudience(AUDIENCE).sign(issuer.privateKey),
    ];
    for (const [i, token] of bad.entries()) {
      const response = await gql(server.url, '{ jobs { nodes { id } } }', {}, token);
      assert.equal(response.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', `token ${i}`);
    }
  });

  test('a valid JWT and a valid API key each work, and each sees only its own jobs', async () => {
    const alice = await issuer.token('alice');
    const mine = await submit(server.url, 'select 1', {}, alice);
    const theirs = await submit(server.url, 'select 2', {}, key);
    await waitForEnd(server.url, mine.id, 10_000, 'id isTerminal', alice);
    const aliceJobs = await gqlData(server.url, '{ jobs(first: 100) { nodes { id } } }', {}, alice);
    const ids = aliceJobs.jobs.nodes.map((j: { id: string }) => j.id);
    assert.ok(ids.includes(mine.id));
    assert.ok(!ids.includes(theirs.id));
    assert.equal((await gqlData(server.url, JOB, { id: theirs.id }, alice)).job, null);
  });

  test('the admin scope (JWT) and an admin API key see every job', async () => {
    const bob = await submit(server.url, 'select 3', {}, await issuer.token('bob'));
    for (const admin of [await issuer.token('carol', { scope: `openid ${ADMIN_SCOPE}` }), adminKey]) {
      assert.equal((await gqlData(server.url, JOB, { id: bob.id }, admin)).job.id, bob.id);
    }
  });

  test('attachQuery needs the admin scope', async () => {
    const response = await gql(server.url, 'mutation { attachQuery(queryId: "01b2c3d4-0000-1111-2222-333344445555") { job { id } } }', {}, key);
    assert.equal(response.errors?.[0]?.extensions?.code, 'FORBIDDEN');
  });

  test('introspection and GraphiQL are off when authentication is on, over HTTP and WebSocket', async () => {
    const token = await issuer.token('alice');
    const http = await gql(server.url, '{ __schema { types { name } } }', {}, token);
    assert.equal(http.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
    const client = wsClient(server.wsUrl, token);
    try {
      const ws = await collect(client, '{ __schema { types { name } } }');
      assert.equal((ws.errors as { extensions: { code: string } }[])[0]?.extensions.code, 'GRAPHQL_VALIDATION_FAILED');
    } finally {
      await client.dispose();
    }
    const page = await fetch(server.url, { headers: { accept: 'text/html' } });
    assert.notEqual(page.headers.get('content-type')?.startsWith('text/html'), true);
  });

  test('WebSocket: the token comes in connection_init; a bad one closes with 4403', async () => {
    const good = await initSocket(server.wsUrl, { authorization: `Bearer ${await issuer.token('alice')}` });
    assert.equal(await good.outcome, 'ack');
    good.socket.close();
    for (const payload of [{}, { authorization: 'Bearer nope' }, { authorization: `Bearer ${await issuer.token('alice', { ttlSeconds: -60 })}` }]) {
      const bad = await initSocket(server.wsUrl, payload);
      assert.equal(await bad.outcome, 4403);
    }
  });

  test('WebSocket: a socket is closed with 4403 when its token expires, and hears nothing after', async () => {
    const token = await issuer.token('alice', { ttlSeconds: 2 });
    const { socket, outcome } = await initSocket(server.wsUrl, { authorization: `Bearer ${token}` });
    assert.equal(await outcome, 'ack');
    const started = Date.now();
    const code = await new Promise<number>((resolve) => socket.once('close', (c) => resolve(c)));
    assert.equal(code, 4403);
    // exp is whole seconds: the close lands within the token's last second (+ the 5 s clock tolerance is not applied here).
    assert.ok(Date.now() - started < 4000, `closed after ${Date.now() - started} ms`);
  });

  test('downloads need the same token, and another principal\'s result is NOT_FOUND', async () => {
    const alice = await issuer.token('alice');
    const job = await submit(server.url, 'select 42 as answer', {}, alice);
    await waitForEnd(server.url, job.id, 10_000, 'id isTerminal', alice);
    const path = server.url.replace('/graphql', `/jobs/${job.id}/result.csv`);
    assert.equal((await fetch(path)).status, 401);
    assert.equal((await fetch(path, { headers: { authorization: `Bearer ${key}` } })).status, 404);
    const own = await fetch(path, { headers: { authorization: `Bearer ${alice}` } });
    assert.equal(own.status, 200);
    assert.match(await own.text(), /answer\s+42/);
  });
});

describe('JWKS', () => {
  test('keys come from the JWKS URL, are cached, and random kids do not flood it', async () => {
    const issuer = await makeIssuer();
    const jwks = await jwksServer(async () => [await issuer.jwk('k1')]);
    const server = await startServer({ JOBQL_JWT_JWKS_URL: jwks.url, JOBQL_JWT_ISSUER: ISSUER, JOBQL_JWT_AUDIENCE: AUDIENCE });
    try {
      const token = await issuer.token('alice', { kid: 'k1' });
      for (let i = 0; i < 5; i++) assert.ok((await gqlData(server.url, '{ jobs { nodes { id } } }', {}, token)).jobs);
      for (let i = 0; i < 20; i++) {
        const forged = await issuer.token('alice', { kid: `random-${i}` });
        const response = await gql(server.url, '{ jobs { nodes { id } } }', {}, forged);
        assert.equal(response.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
      }
      assert.ok(jwks.hits() <= 2, `JWKS fetched ${jwks.hits()} times`);
    } finally {
      await server.stop();
      await jwks.close();
    }
  });
});
