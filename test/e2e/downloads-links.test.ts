/**
 * Downloads a browser can use: signed links from `Job.downloads` that work with no header, refuse
 * any change, expire, survive a key rotation and die when the old key goes, never reach the log;
 * HEAD with GET's headers; byte ranges on Parquet. A real server with authentication on (API keys
 * and a JWT issuer), plain fetch.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { buildApp } from '../../src/app.ts';
import type { Logger } from '../../src/logger.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { jwtEnv, makeIssuer, newApiKey, type Issuer } from '../helpers/auth.ts';
import { gql, gqlData, submit, waitForEnd } from '../helpers/client.ts';
import { startServer, type TestServer, tempDir } from '../helpers/server.ts';

const alice = newApiKey('alice', false);
const bob = newApiKey('bob', false);
const ops = newApiKey('ops', true);
const KEY_A = Buffer.alloc(32, 0xa1).toString('base64');
const KEY_B = Buffer.alloc(32, 0xb2).toString('hex');
const KEY_C = Buffer.alloc(48, 0xc3).toString('base64url');
const AUTH = { JOBQL_API_KEYS: [alice.entry, bob.entry, ops.entry].join(',') };
const DOWNLOADS = 'query($id: ID!) { job(id: $id) { resultExpiresAt downloads { csv ndjson arrow parquet expiresAt } } }';

interface Links {
  csv: string;
  ndjson: string;
  arrow: string;
  parquet: string;
  expiresAt: string;
}

async function links(server: TestServer, jobId: string, token: string): Promise<Links> {
  return (await gqlData(server.url, DOWNLOADS, { id: jobId }, token)).job.downloads;
}

async function finished(server: TestServer, sql: string, token: string): Promise<any> {
  const job = await waitForEnd(server.url, (await submit(server.url, sql, {}, token)).id, 20_000, 'id status queryId isTerminal resultExpiresAt', token);
  assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
  return job;
}

const origin = (server: TestServer): string => server.url.replace('/graphql', '');

/** A link with one query parameter (or the path) changed. */
function altered(link: string, change: (url: URL) => void): string {
  const url = new URL(link, 'http://x');
  change(url);
  return url.pathname + url.search;
}

/** A GET with any headers (fetch will not send `Origin` as a page would). */
function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function codeOf(response: Response): Promise<string> {
  return ((await response.json()) as any).errors[0].extensions.code;
}

/** A log that keeps every line (pino JSON) in memory. */
function memoryLog(level = 'debug'): { logger: Logger; text(): string } {
  let text = '';
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      text += String(chunk);
      callback();
    },
  });
  return { logger: pino({ level }, sink) as Logger, text: () => text };
}

describe('signed links with authentication on', () => {
  let server: TestServer;
  let issuer: Issuer;
  let job: any;
  let bobsJob: any;
  let link: Links;

  before(async () => {
    issuer = await makeIssuer();
    server = await startServer({
      ...AUTH,
      ...jwtEnv(issuer),
      JOBQL_DOWNLOAD_SIGNING_KEY: KEY_A,
      JOBQL_RESULT_TTL_SECONDS: '600',
      JOBQL_CORS_ORIGINS: 'https://app.example.com',
    });
    job = await finished(server, "select range as n, 'r' || range as s from range(5000)", alice.key);
    bobsJob = await finished(server, 'select 7 as seven', bob.key);
    link = await links(server, job.id, alice.key);
  });
  after(() => server.stop());

  test('a link works with no header, in every format', async () => {
    for (const format of ['csv', 'ndjson', 'arrow', 'parquet'] as const) {
      const response = await fetch(origin(server) + link[format]);
      assert.equal(response.status, 200, `${format}: ${response.status}`);
      const bytes = Buffer.from(await response.arrayBuffer());
      assert.ok(bytes.length > 1000, `${format}: ${bytes.length} bytes`);
    }
    const csv = await (await fetch(origin(server) + link.csv)).text();
    assert.equal(csv.split('\n')[0], 'n,s');
    assert.equal(csv.split('\n')[4999 + 1], '4999,r4999');
  });

  test('a link without its query still needs the header; with it, the header is not needed nor looked at', async () => {
    const path = link.csv.split('?')[0]!;
    assert.equal((await fetch(origin(server) + path)).status, 401);
    assert.equal((await fetch(origin(server) + path, { headers: { authorization: `Bearer ${alice.key}` } })).status, 200);
    assert.equal((await fetch(origin(server) + path, { headers: { authorization: `Bearer ${bob.key}` } })).status, 404);
    // A link decides alone: a bad header beside a good link does not matter.
    assert.equal((await fetch(origin(server) + link.csv, { headers: { authorization: 'Bearer nonsense' } })).status, 200);
  });

  test('the link names the owner and expires within the lifetime, before the result does', async () => {
    const url = new URL(link.csv, 'http://x');
    assert.equal(url.searchParams.get('principal'), 'key:alice');
    const expiresAt = Date.parse(link.expiresAt);
    assert.equal(Number(url.searchParams.get('expires')) * 1000, expiresAt);
    assert.ok(expiresAt > Date.now() && expiresAt <= Date.now() + 300_000, link.expiresAt);
    assert.ok(expiresAt <= Date.parse(job.resultExpiresAt));
  });

  test('an admin gets the owner\'s link (no admin rights in it); another principal gets no job', async () => {
    const admins = await links(server, job.id, ops.key);
    assert.equal(new URL(admins.csv, 'http://x').searchParams.get('principal'), 'key:alice');
    assert.equal((await fetch(origin(server) + admins.parquet)).status, 200);
    assert.equal((await gqlData(server.url, DOWNLOADS, { id: job.id }, bob.key)).job, null);
  });

  test('a JWT principal\'s link expires no later than its token', async () => {
    const token = await issuer.token('carol', { ttlSeconds: 60 });
    const own = await finished(server, 'select 1 as one', token);
    const carols = await links(server, own.id, token);
    const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp as number;
    assert.ok(Date.parse(carols.expiresAt) <= exp * 1000, `${carols.expiresAt} vs exp ${exp}`);
    assert.equal(new URL(carols.csv, 'http://x').searchParams.get('principal'), 'user:carol');
    assert.equal((await fetch(origin(server) + carols.csv)).status, 200);
  });

  test('any change to alice\'s link is refused: 403 FORBIDDEN', async () => {
    const bobs = await links(server, bobsJob.id, bob.key);
    const sig = new URL(link.csv, 'http://x').searchParams.get('sig')!;
    const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
    const tampered: [string, string][] = [
      ['another job id', link.csv.replace(job.id, bobsJob.id)],
      ['another format', link.csv.replace('result.csv', 'result.parquet')],
      ['a later expiry', altered(link.csv, (u) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600)))],
      ['an earlier expiry', altered(link.csv, (u) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) - 1)))],
      ['another principal', altered(link.csv, (u) => u.searchParams.set('principal', 'key:bob'))],
      ['an admin principal', altered(link.csv, (u) => u.searchParams.set('principal', 'key:ops'))],
      ['another signature', altered(link.csv, (u) => u.searchParams.set('sig', flipped))],
      ['a truncated signature', altered(link.csv, (u) => u.searchParams.set('sig', sig.slice(0, 42)))],
      ['bob\'s signature', altered(link.csv, (u) => u.searchParams.set('sig', new URL(bobs.csv, 'http://x').searchParams.get('sig')!))],
      ['bob\'s whole query on alice\'s job', `${link.csv.split('?')[0]}?${bobs.csv.split('?')[1]}`],
      ['no principal', altered(link.csv, (u) => u.searchParams.delete('principal'))],
      ['no expiry', altered(link.csv, (u) => u.searchParams.delete('expires'))],
      ['a second signature', `${link.csv}&sig=${flipped}`],
      ['an empty signature', altered(link.csv, (u) => u.searchParams.set('sig', ''))],
    ];
    for (const [what, path] of tampered) {
      const response = await fetch(origin(server) + path);
      assert.equal(response.status, 403, `${what}: ${response.status}`);
      assert.equal(await codeOf(response), 'FORBIDDEN', what);
    }
    // Bob's own link still works; a tampered one with bob's valid header is still refused.
    assert.equal((await fetch(origin(server) + bobs.csv)).status, 200);
    const withHeader = await fetch(origin(server) + tampered[4]![1], { headers: { authorization: `Bearer ${bob.key}` } });
    assert.equal(withHeader.status, 403);
  });

  test('a page on an allowed origin fetches a link with no header and reads its headers; other origins stay refused', async () => {
    const allowed = await rawGet(origin(server) + link.parquet, { origin: 'https://app.example.com', range: 'bytes=0-3' });
    assert.equal(allowed.status, 206);
    assert.equal(allowed.bytes, 4);
    assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.match(String(allowed.headers['access-control-expose-headers']), /Content-Disposition.*Content-Range/);
    // The origin policy still decides which pages may call: a link is no way around it.
    const foreign = await rawGet(origin(server) + link.parquet, { origin: 'https://evil.example' });
    assert.equal(foreign.status, 403);
    // A navigation (an <a href>, a new tab) sends no Origin: it needs only the link.
    assert.equal((await rawGet(origin(server) + link.csv, {})).status, 200);
  });

  test('a header-authenticated download works as before', async () => {
    const response = await fetch(`${origin(server)}/jobs/${job.id}/result.ndjson`, { headers: { authorization: `Bearer ${alice.key}` } });
    assert.equal(response.status, 200);
    assert.deepEqual(JSON.parse((await response.text()).split('\n')[3]!), [3, 'r3']);
  });

  test('HEAD answers GET\'s headers and no body, in every format, with a link or a header', async () => {
    const compared = ['content-type', 'content-disposition', 'content-length', 'accept-ranges', 'etag', 'cache-control', 'x-content-type-options'];
    for (const format of ['csv', 'ndjson', 'arrow', 'parquet'] as const) {
      for (const [how, path, headers] of [
        ['link', link[format], {}],
        ['header', link[format].split('?')[0]!, { authorization: `Bearer ${alice.key}` }],
      ] as const) {
        const get = await fetch(origin(server) + path, { headers });
        const getBody = Buffer.from(await get.arrayBuffer());
        const head = await fetch(origin(server) + path, { method: 'HEAD', headers });
        assert.equal(head.status, 200, `${format} ${how}`);
        assert.equal((await head.arrayBuffer()).byteLength, 0);
        for (const name of compared) assert.equal(head.headers.get(name), get.headers.get(name), `${format} ${how}: ${name}`);
        const extension = format === 'arrow' ? 'arrows' : format;
        assert.equal(get.headers.get('content-disposition'), `attachment; filename="${job.id}.${extension}"`);
        if (format === 'parquet') {
          assert.equal(get.headers.get('accept-ranges'), 'bytes');
          assert.equal(Number(get.headers.get('content-length')), getBody.length);
        } else {
          assert.equal(get.headers.get('accept-ranges'), 'none');
          assert.equal(get.headers.get('content-length'), null, `${format} is made as it streams`);
        }
      }
    }
    // HEAD refuses what GET refuses.
    assert.equal((await fetch(origin(server) + link.csv.replace('result.csv', 'result.ndjson'), { method: 'HEAD' })).status, 403);
    assert.equal((await fetch(`${origin(server)}/jobs/${job.id}/result.csv`, { method: 'HEAD' })).status, 401);
  });

  test('Range on Parquet: the right bytes, 206 with Content-Range; 416 past the end', async () => {
    const full = Buffer.from(await (await fetch(origin(server) + link.parquet)).arrayBuffer());
    const size = full.length;
    assert.equal(full.subarray(0, 4).toString(), 'PAR1');
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=100-', 100, size - 1],
      ['bytes=-8', size - 8, size - 1],
      ['bytes=0-0', 0, 0],
      [`bytes=${size - 10}-${size + 1000}`, size - 10, size - 1],
      [`bytes=-${size + 5}`, 0, size - 1],
      ['BYTES=5-9', 5, 9],
    ];
    for (const [range, start, end] of cases) {
      const response = await fetch(origin(server) + link.parquet, { headers: { range } });
      assert.equal(response.status, 206, range);
      assert.equal(response.headers.get('content-range'), `bytes ${start}-${end}/${size}`, range);
      assert.equal(Number(response.headers.get('content-length')), end - start + 1, range);
      assert.ok(Buffer.from(await response.arrayBuffer()).equals(full.subarray(start, end + 1)), `${range}: the same bytes as the whole file`);
    }
    for (const range of [`bytes=${size}-`, `bytes=${size + 100}-${size + 200}`, 'bytes=-0']) {
      const response = await fetch(origin(server) + link.parquet, { headers: { range } });
      assert.equal(response.status, 416, range);
      assert.equal(response.headers.get('content-range'), `bytes */${size}`);
      assert.equal(await codeOf(response), 'BAD_REQUEST');
    }
    // Several ranges, another unit, a malformed or reversed range: the whole file.
    for (const range of ['bytes=0-1,5-6', 'items=0-1', 'bytes=abc', 'bytes=9-3']) {
      const response = await fetch(origin(server) + link.parquet, { headers: { range } });
      assert.equal(response.status, 200, range);
      assert.equal(Buffer.from(await response.arrayBuffer()).length, size, range);
    }
    // If-Range: the range for the same ETag, the whole file for another or a date.
    const etag = (await fetch(origin(server) + link.parquet, { method: 'HEAD' })).headers.get('etag')!;
    assert.match(etag, /^"[^"]+"$/);
    assert.equal((await fetch(origin(server) + link.parquet, { headers: { range: 'bytes=0-9', 'if-range': etag } })).status, 206);
    for (const ifRange of ['"other"', 'Sun, 06 Dec 2026 01:00:00 GMT']) {
      const response = await fetch(origin(server) + link.parquet, { headers: { range: 'bytes=0-9', 'if-range': ifRange } });
      assert.equal(response.status, 200, ifRange);
      await response.arrayBuffer();
    }
    // HEAD with a range: the 206's headers.
    const head = await fetch(origin(server) + link.parquet, { method: 'HEAD', headers: { range: 'bytes=10-19' } });
    assert.equal(head.status, 206);
    assert.equal(head.headers.get('content-range'), `bytes 10-19/${size}`);
    assert.equal(head.headers.get('content-length'), '10');
  });

  test('CSV, NDJSON and Arrow ignore Range: the whole body, 200', async () => {
    for (const format of ['csv', 'ndjson', 'arrow'] as const) {
      const whole = Buffer.from(await (await fetch(origin(server) + link[format])).arrayBuffer());
      const response = await fetch(origin(server) + link[format], { headers: { range: 'bytes=0-9' } });
      assert.equal(response.status, 200, format);
      assert.equal(response.headers.get('content-range'), null);
      assert.equal(response.headers.get('accept-ranges'), 'none');
      assert.ok(Buffer.from(await response.arrayBuffer()).equals(whole), `${format}: the same bytes`);
    }
  });
});

describe('link lifetime', () => {
  test('an expired link is refused with 403 FORBIDDEN; a fresh one works', async () => {
    let offsetMs = 0;
    const clock = { now: () => new Date(Date.now() + offsetMs) };
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      JOBQL_DATA_DIR: tempDir(),
      JOBQL_SHUTDOWN_GRACE_MS: '0',
      ...AUTH,
      JOBQL_DOWNLOAD_LINK_TTL_SECONDS: '60',
    });
    const app = await buildApp(config, pino({ level: 'silent' }), { clock });
    await app.start();
    const server = { url: `${app.url}/graphql` } as TestServer;
    try {
      const job = await finished(server, 'select 1 as one', alice.key);
      const link = await links(server, job.id, alice.key);
      assert.ok(Math.abs(Date.parse(link.expiresAt) - (clock.now().getTime() + 60_000)) < 1500, link.expiresAt);
      assert.equal((await fetch(app.url + link.csv)).status, 200);
      offsetMs = 61_000;
      const late = await fetch(app.url + link.csv);
      assert.equal(late.status, 403);
      const body = (await late.json()) as any;
      assert.equal(body.errors[0].extensions.code, 'FORBIDDEN');
      assert.match(body.errors[0].message, /expired at/);
      assert.equal((await fetch(app.url + link.csv, { method: 'HEAD' })).status, 403);
      const fresh = await links(server, job.id, alice.key);
      assert.equal((await fetch(app.url + fresh.csv)).status, 200);
    } finally {
      await app.stop();
    }
  });

  test('a link never outlives the result', async () => {
    const server = await startServer({ ...AUTH, JOBQL_RESULT_TTL_SECONDS: '30' });
    try {
      const job = await finished(server, 'select 1 as one', alice.key);
      const data = (await gqlData(server.url, DOWNLOADS, { id: job.id }, alice.key)).job;
      assert.ok(Date.parse(data.downloads.expiresAt) <= Date.parse(data.resultExpiresAt), `${data.downloads.expiresAt} vs ${data.resultExpiresAt}`);
      assert.ok(Date.parse(data.downloads.expiresAt) > Date.now() + 20_000);
    } finally {
      await server.stop();
    }
  });
});

describe('key rotation', () => {
  test('a link survives a restart with the same key, and a rotation while the old key is PREVIOUS; removing it revokes the link', async () => {
    const dataDir = tempDir();
    let server = await startServer({ ...AUTH, JOBQL_DOWNLOAD_SIGNING_KEY: KEY_A }, dataDir);
    const job = await finished(server, "select 'kept' as v", alice.key);
    const old = await links(server, job.id, alice.key);
    await server.stop();

    server = await startServer({ ...AUTH, JOBQL_DOWNLOAD_SIGNING_KEY: KEY_A }, dataDir);
    assert.equal((await fetch(origin(server) + old.csv)).status, 200, 'the same key after a restart');
    await server.stop();

    server = await startServer({ ...AUTH, JOBQL_DOWNLOAD_SIGNING_KEY: KEY_B, JOBQL_DOWNLOAD_SIGNING_KEY_PREVIOUS: KEY_A }, dataDir);
    const rotated = await links(server, job.id, alice.key);
    assert.notEqual(rotated.csv, old.csv, 'new links are signed with the new key');
    const response = await fetch(origin(server) + old.csv);
    assert.equal(response.status, 200, 'the old key still verifies as PREVIOUS');
    assert.match(await response.text(), /kept/);
    assert.equal((await fetch(origin(server) + rotated.csv)).status, 200);
    await server.stop();

    server = await startServer({ ...AUTH, JOBQL_DOWNLOAD_SIGNING_KEY: KEY_B }, dataDir);
    try {
      const revoked = await fetch(origin(server) + old.csv);
      assert.equal(revoked.status, 403, 'PREVIOUS removed: the old links are revoked');
      assert.equal(await codeOf(revoked), 'FORBIDDEN');
      assert.equal((await fetch(origin(server) + rotated.csv)).status, 200, 'links of the current key still work');
    } finally {
      await server.stop();
    }
  });

  test('without a configured key, links die when the process restarts', async () => {
    const dataDir = tempDir();
    let server = await startServer({ ...AUTH }, dataDir);
    const job = await finished(server, 'select 1 as one', alice.key);
    const link = await links(server, job.id, alice.key);
    assert.equal((await fetch(origin(server) + link.csv)).status, 200);
    await server.stop();
    server = await startServer({ ...AUTH }, dataDir);
    try {
      assert.equal((await fetch(origin(server) + link.csv)).status, 403);
      assert.equal((await fetch(origin(server) + (await links(server, job.id, alice.key)).csv)).status, 200);
    } finally {
      await server.stop();
    }
  });
});

describe('signing key configuration', () => {
  test('accepts 32+ bytes as hex or base64, refuses less without repeating the value', () => {
    for (const key of [KEY_A, KEY_B, KEY_C]) {
      assert.ok(loadConfig({ JOBQL_DOWNLOAD_SIGNING_KEY: key }).downloads.signingKey);
    }
    const short = 'c2hvcnQta2V5LW9mLTI0LWJ5dGVzLi4uLi4u'; // 27 bytes of base64
    for (const [name, value] of [
      ['JOBQL_DOWNLOAD_SIGNING_KEY', short],
      ['JOBQL_DOWNLOAD_SIGNING_KEY', 'not a key, has spaces and is long enough to be 32 bytes'],
      ['JOBQL_DOWNLOAD_SIGNING_KEY_PREVIOUS', 'ab'.repeat(31)],
    ] as const) {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.message.includes(`${name}=<redacted>`) &&
          /at least 32 random bytes/.test(error.message) &&
          !error.message.includes(value),
        `${name}=${value}`,
      );
    }
    assert.throws(() => loadConfig({ JOBQL_DOWNLOAD_LINK_TTL_SECONDS: '0' }), ConfigError);
    assert.equal(loadConfig({}).downloads.linkTtlSeconds, 300);
    assert.equal(loadConfig({}).downloads.signingKey, null);
  });

  test('several instances need the key (each must verify the others\' links)', () => {
    const cluster = {
      JOBQL_WAREHOUSE: 'snowflake',
      SNOWFLAKE_ACCOUNT: 'acme',
      SNOWFLAKE_USER: 'jobql',
      SNOWFLAKE_PASSWORD: 'secret',
      SNOWFLAKE_HOME: tempDir(),
      JOBQL_DATABASE_URL: 'postgres://db.example:5432/jobql',
      JOBQL_REDIS_URL: 'redis://cache.example:6379',
    };
    assert.throws(
      () => loadConfig(cluster),
      (error: unknown) => error instanceof ConfigError && /JOBQL_DOWNLOAD_SIGNING_KEY is required/.test(error.message),
    );
    assert.ok(loadConfig({ ...cluster, JOBQL_DOWNLOAD_SIGNING_KEY: KEY_A }).cluster);
  });

  test('the key never shows in a logged or printed configuration', async () => {
    const config = loadConfig({ JOBQL_DOWNLOAD_SIGNING_KEY: KEY_A });
    const { inspect } = await import('node:util');
    const raw = Buffer.from(KEY_A, 'base64');
    for (const text of [JSON.stringify(config), inspect(config, { depth: 10 })]) {
      assert.ok(!text.includes(KEY_A) && !text.includes(raw.toString('hex')) && !text.includes('161, 161'), text.slice(0, 200));
      assert.match(text, /redacted/);
    }
  });
});

describe('logs', () => {
  test('no signature ever reaches the log: downloads, refusals and failures', async () => {
    const log = memoryLog('trace');
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', JOBQL_DATA_DIR: tempDir(), JOBQL_SHUTDOWN_GRACE_MS: '0', LOG_LEVEL: 'trace', ...AUTH });
    const app = await buildApp(config, log.logger);
    await app.start();
    const server = { url: `${app.url}/graphql` } as TestServer;
    const signatures: string[] = [];
    try {
      const job = await finished(server, 'select 1 as one', alice.key);
      const link = await links(server, job.id, alice.key);
      for (const format of ['csv', 'ndjson', 'arrow', 'parquet'] as const) {
        signatures.push(new URL(link[format], 'http://x').searchParams.get('sig')!);
        assert.equal((await fetch(app.url + link[format])).status, 200);
        assert.equal((await fetch(app.url + link[format], { method: 'HEAD' })).status, 200);
      }
      const tampered = link.csv.replace('result.csv', 'result.ndjson');
      assert.equal((await fetch(app.url + tampered)).status, 403);
      assert.equal((await fetch(app.url + link.csv.replace('principal=key%3Aalice', 'principal=key%3Abob'))).status, 403);
      // The graphql path logs nothing of links either (the response holds them, the log does not).
      await gql(server.url, DOWNLOADS, { id: job.id }, alice.key);
      // A failure inside a download is logged, with the URL's signature redacted.
      const warehouse = app.warehouse;
      const downloadResult = warehouse.downloadResult;
      warehouse.downloadResult = async () => {
        throw new Error('disk on fire');
      };
      try {
        const failed = await fetch(app.url + link.parquet);
        assert.equal(failed.status, 500);
        assert.equal(await codeOf(failed), 'INTERNAL_SERVER_ERROR');
      } finally {
        warehouse.downloadResult = downloadResult;
      }
    } finally {
      await app.stop();
    }
    const text = log.text();
    assert.match(text, /disk on fire/, 'the failure was logged');
    assert.match(text, /sig=REDACTED/, 'with its URL, redacted');
    assert.match(text, /download link refused/);
    assert.match(text, /"via":"link"/, 'downloads by link are logged (at debug)');
    for (const sig of signatures) assert.ok(!text.includes(sig), `signature ${sig} in the log`);
    assert.doesNotMatch(text, /sig=(?!REDACTED)/);
  });
});
