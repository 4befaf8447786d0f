/**
 * Completion webhooks through a real server and a real receiver on loopback: a job submitted with
 * `notify: { url }` is POSTed when it ends, signed, retried past failures, recorded on the job
 * (`notifications`), taken up again after a restart, and refused at submit when it may not go.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { verifyWebhook } from '../../src/notifications/webhook-signature.ts';
import { gql, gqlData, submit, waitForEnd } from '../helpers/client.ts';
import { startServer, type TestServer, tempDir } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait-for.ts';

const SECRET = 'a-webhook-secret-of-at-least-32-characters';
const NOTIFIED = 'id status isTerminal notifications { url attempts deliveredAt lastError gaveUp }';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A receiver that answers each POST with the next of `answers` (the last one repeats). */
async function receiver(answers: number[]): Promise<{ server: Server; port: number; received: Received[]; answers: number[] }> {
  const received: Received[] = [];
  const state = { answers };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = state.answers.length > 1 ? state.answers.shift()! : state.answers[0]!;
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, received, answers };
}

const webhookEnv = (port: number): Record<string, string> => ({
  JOBQL_WEBHOOK_SECRET: SECRET,
  JOBQL_WEBHOOK_ALLOWED_HOSTS: `127.0.0.1:${port}`,
  JOBQL_WEBHOOK_INITIAL_BACKOFF_MS: '50',
  JOBQL_WEBHOOK_MAX_BACKOFF_MS: '200',
  JOBQL_WEBHOOK_ATTEMPT_TIMEOUT_MS: '2000',
});

describe('completion webhooks', () => {
  let hook: Awaited<ReturnType<typeof receiver>>;
  let server: TestServer;
  before(async () => {
    hook = await receiver([500, 500, 204]);
    server = await startServer(webhookEnv(hook.port));
  });
  after(async () => {
    await server.stop();
    hook.server.close();
  });

  test('a job that ends is POSTed, signed, retried past failures, and the delivery recorded on it', async () => {
    const url = `http://127.0.0.1:${hook.port}/hooks/jobql?tenant=42`;
    const job = await submit(server.url, 'select 42 as answer', { notify: { url } });
    const ended = await waitFor(
      async () => {
        const read = await gqlData(server.url, `query($id: ID!) { job(id: $id) { ${NOTIFIED} } }`, { id: job.id });
        return read.job.notifications.deliveredAt ? read.job : null;
      },
      { timeoutMs: 20_000, what: 'the webhook to be delivered' },
    );
    assert.equal(ended.status, 'SUCCESS');
    assert.equal(ended.notifications.url, url);
    assert.equal(ended.notifications.attempts, 3);
    assert.equal(ended.notifications.lastError, null);
    assert.equal(ended.notifications.gaveUp, false);
    assert.equal(hook.received.length, 3);
    const ids = new Set(hook.received.map((r) => r.headers['jobql-delivery']));
    assert.equal(ids.size, 1, 'one delivery id across the retries');
    const now = Math.floor(Date.now() / 1000);
    for (const r of hook.received) {
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['jobql-event'], 'job.ended');
      assert.ok(verifyWebhook(SECRET, String(r.headers['jobql-signature']), r.body, now), 'the signature verifies');
      assert.equal(verifyWebhook('another-secret-of-at-least-32-characters', String(r.headers['jobql-signature']), r.body, now), false);
      assert.equal(verifyWebhook(SECRET, String(r.headers['jobql-signature']), r.body, now + 3600), false, 'outside the replay window');
    }
    const payload = JSON.parse(hook.received.at(-1)!.body);
    assert.equal(payload.event, 'job.ended');
    assert.equal(payload.job.id, job.id);
    assert.equal(payload.job.status, 'SUCCESS');
    assert.equal(payload.job.error, null);
    assert.equal(JSON.stringify(payload).includes('select 42'), false, 'no SQL text in the body');
    // The result's links work with nothing but the link.
    const csv = await fetch(new URL(payload.downloads.csv, server.url));
    assert.equal(csv.status, 200);
    assert.equal(await csv.text(), 'answer\n42\n');
  });

  test('a failed job is notified with its error; a job without notify has no notifications', async () => {
    hook.answers.splice(0, hook.answers.length, 200);
    const before = hook.received.length;
    const job = await submit(server.url, 'select * from no_such_table', { notify: { url: `http://127.0.0.1:${hook.port}/x` } });
    await waitFor(() => hook.received.length > before, { timeoutMs: 10_000, what: 'the failed job to be notified' });
    const payload = JSON.parse(hook.received.at(-1)!.body);
    assert.equal(payload.job.id, job.id);
    assert.equal(payload.job.status, 'FAILED_WITH_ERROR');
    assert.equal(payload.job.error.code, 'SQL_OBJECT_NOT_FOUND');
    assert.equal(payload.downloads, null);
    const plain = await waitForEnd(server.url, (await submit(server.url, 'select 1')).id, 10_000, NOTIFIED);
    assert.equal(plain.notifications, null);
  });

  test('a URL off the allow-list, or not http(s), is BAD_USER_INPUT at submit; so is any URL where webhooks are off', async () => {
    for (const url of ['http://127.0.0.1:1/x', 'http://169.254.169.254/latest', `ftp://127.0.0.1:${hook.port}/`, 'not a url']) {
      const answer = await gql(server.url, `mutation($url: String!) { submitQuery(input: { sql: "select 1", notify: { url: $url } }) { job { id } } }`, { url });
      assert.equal(answer.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', `${url}: ${JSON.stringify(answer)}`);
      assert.equal(answer.data, null);
    }
    const off = await startServer();
    try {
      const answer = await gql(off.url, `mutation($url: String!) { submitQuery(input: { sql: "select 1", notify: { url: $url } }) { job { id } } }`, {
        url: `http://127.0.0.1:${hook.port}/x`,
      });
      assert.equal(answer.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
      assert.match(answer.errors?.[0]?.message ?? '', /not enabled/);
    } finally {
      await off.stop();
    }
  });
});

test('a delivery cut short by a stop is taken up again after the restart: at least once', async () => {
  const hook = await receiver([503]);
  const dataDir = tempDir();
  let server = await startServer(webhookEnv(hook.port), dataDir);
  try {
    const job = await submit(server.url, 'select 1', { notify: { url: `http://127.0.0.1:${hook.port}/h` } });
    await waitFor(() => hook.received.length >= 2, { timeoutMs: 10_000, what: 'two failed attempts' });
    await server.stop();
    const attemptsBefore = hook.received.length;
    hook.answers.splice(0, hook.answers.length, 200);
    server = await startServer(webhookEnv(hook.port), dataDir);
    const delivered = await waitFor(
      async () => {
        const read = await gqlData(server.url, `query($id: ID!) { job(id: $id) { ${NOTIFIED} } }`, { id: job.id });
        return read.job.notifications.deliveredAt ? read.job : null;
      },
      { timeoutMs: 20_000, what: 'the delivery after the restart' },
    );
    assert.ok(hook.received.length > attemptsBefore);
    // The record counts the attempts answered before the stop (one cut off by it is made again), and the one after it.
    assert.ok(delivered.notifications.attempts >= 2, JSON.stringify(delivered.notifications));
    assert.equal(new Set(hook.received.map((r) => r.headers['jobql-delivery'])).size, 1, 'the same delivery id after the restart');
  } finally {
    await server.stop();
    hook.server.close();
  }
});
