import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WebhookConfig } from '../../src/notifications/webhook-config.ts';
import { MAX_RESPONSE_BYTES } from '../../src/notifications/webhook-request.ts';
import { type DeliveryRecord, deliveryIdFor, WebhookSender } from '../../src/notifications/webhook-sender.ts';
import { verifyWebhook } from '../../src/notifications/webhook-signature.ts';
import { capturingLogger, type Receiver, type Reply, startReceiver } from './receiver.ts';

const SECRET = 'sender-test-secret-0123456789abcdef-xyz';
const PAYLOAD = { event: 'job.ended', job: { id: 'job_1', status: 'SUCCESS', tag: 'nightly' } };

interface Harness {
  receiver: Receiver;
  sender: WebhookSender;
  records: DeliveryRecord[];
  lines: string[];
  [Symbol.asyncDispose](): Promise<void>;
}

/** A real receiver with scripted replies and a sender allowed to reach it, with small timings. */
async function harness(replies: readonly Reply[], config: Partial<WebhookConfig> = {}, random = () => 0.5): Promise<Harness> {
  const receiver = await startReceiver(replies);
  const records: DeliveryRecord[] = [];
  const logger = capturingLogger();
  const sender = new WebhookSender({
    config: {
      secret: SECRET,
      previousSecret: null,
      allowedHosts: [`127.0.0.1:${receiver.port}`],
      allowPrivateNetworks: false,
      retryForMs: 5000,
      attemptTimeoutMs: 1000,
      initialBackoffMs: 20,
      maxBackoffMs: 80,
      ...config,
    },
    logger,
    onRecord: async (_jobId, record) => {
      records.push(structuredClone(record));
    },
    random,
  });
  return {
    receiver,
    sender,
    records,
    lines: logger.lines,
    async [Symbol.asyncDispose]() {
      await sender.stop();
      await receiver.close();
    },
  };
}

test('500 twice, then 200: three attempts, delivered, signed, one delivery id', async () => {
  await using h = await harness([{ status: 500 }, { status: 500 }, { status: 204 }]);
  await h.sender.deliver('job_1', h.receiver.url('/hook?token=abc'), PAYLOAD);

  assert.equal(h.receiver.requests.length, 3);
  assert.deepEqual(
    h.records.map((r) => [r.attempts, r.lastError, r.deliveredAt !== null, r.gaveUp]),
    [
      [1, 'HTTP 500 Internal Server Error', false, false],
      [2, 'HTTP 500 Internal Server Error', false, false],
      [3, null, true, false],
    ],
  );
  const last = h.records.at(-1)!;
  assert.ok(last.firstAttemptAt && last.deliveredAt && last.firstAttemptAt <= last.deliveredAt);
  assert.ok(h.records.every((r) => r.firstAttemptAt?.getTime() === last.firstAttemptAt?.getTime()), 'the first attempt stays the first');

  const ids = new Set(h.receiver.requests.map((r) => r.headers['jobql-delivery']));
  assert.deepEqual([...ids], [deliveryIdFor('job_1')]);
  assert.match(deliveryIdFor('job_1'), /^dlv_[0-9a-f]{32}$/);
  assert.notEqual(deliveryIdFor('job_1'), deliveryIdFor('job_2'));
  for (const request of h.receiver.requests) {
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/hook?token=abc');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.equal(request.headers['jobql-event'], 'job.ended');
    assert.match(request.headers['user-agent'] ?? '', /^jobql/);
    assert.deepEqual(JSON.parse(request.body), PAYLOAD);
    const signature = request.headers['jobql-signature'];
    assert.equal(typeof signature, 'string');
    assert.ok(verifyWebhook(SECRET, signature as string, request.body, Math.floor(Date.now() / 1000)), 'verifies at the receiver');
    assert.equal(verifyWebhook('x'.repeat(40), signature as string, request.body, Math.floor(Date.now() / 1000)), false);
  }
  // Neither the secret, nor a signature, nor the URL's path or query is in the logs.
  const log = h.lines.join('\n');
  const mac = String(h.receiver.requests[0]!.headers['jobql-signature']).split('v1=')[1]!;
  assert.doesNotMatch(log, new RegExp(SECRET));
  assert.doesNotMatch(log, new RegExp(mac));
  assert.doesNotMatch(log, /token=abc/);
  assert.match(log, /webhook delivered/);
});

test('a rotation signs with both keys; either verifies at the receiver', async () => {
  const old = 'previous-secret-0123456789abcdef-0123456';
  await using h = await harness([{ status: 200 }], { previousSecret: old });
  await h.sender.deliver('job_rot', h.receiver.url(), PAYLOAD);
  const request = h.receiver.requests[0]!;
  const header = String(request.headers['jobql-signature']);
  assert.equal(header.match(/v1=/g)?.length, 2);
  const now = Math.floor(Date.now() / 1000);
  assert.ok(verifyWebhook(SECRET, header, request.body, now));
  assert.ok(verifyWebhook(old, header, request.body, now));
});

test('a receiver that hangs: the attempt is aborted within its timeout, then retried', async () => {
  await using h = await harness(['hang', { status: 200 }], { attemptTimeoutMs: 300 });
  const started = performance.now();
  await h.sender.deliver('job_hang', h.receiver.url(), PAYLOAD);
  const [first, second] = h.receiver.requests;
  assert.ok(first && second, 'two attempts');
  assert.ok(first.closedAt !== null, 'the hung connection was closed by the sender');
  const heldMs = first.closedAt - first.arrivedAt;
  assert.ok(heldMs < 300 + 150, `closed ${heldMs.toFixed(0)} ms after arrival, within the 300 ms timeout`);
  assert.match(h.records[0]!.lastError ?? '', /^no answer within 300 ms$/);
  assert.equal(h.records[1]!.attempts, 2);
  assert.ok(h.records[1]!.deliveredAt);
  assert.ok(performance.now() - started < 1500);
});

test('a receiver that always fails: given up after retryForMs, with lastError', async () => {
  await using h = await harness([{ status: 503 }], { retryForMs: 600, initialBackoffMs: 50, maxBackoffMs: 100 });
  const started = performance.now();
  await h.sender.deliver('job_down', h.receiver.url(), PAYLOAD);
  const elapsed = performance.now() - started;
  const last = h.records.at(-1)!;
  assert.ok(elapsed < 600 + 1000, `gave up after ${elapsed.toFixed(0)} ms`);
  assert.ok(elapsed >= 500, 'kept retrying for about the retry period');
  assert.ok(last.attempts >= 5, `${last.attempts} attempts`);
  assert.equal(last.attempts, h.receiver.requests.length);
  assert.equal(last.deliveredAt, null);
  assert.equal(last.gaveUp, true);
  assert.equal(last.lastError, 'HTTP 503 Service Unavailable');
  // No attempt started after the retry period.
  const firstAt = h.receiver.requests[0]!.arrivedAt;
  assert.ok(h.receiver.requests.every((r) => r.arrivedAt - firstAt < 600));
  assert.ok(h.lines.some((l) => l.includes('webhook given up')));
});

test('a refused connection is a failed attempt like any other', async () => {
  await using h = await harness([{ status: 200 }], { retryForMs: 0 });
  const port = h.receiver.port;
  await h.receiver.close();
  await h.sender.deliver('job_refused', `http://127.0.0.1:${port}/hook`, PAYLOAD);
  assert.equal(h.records.length, 1);
  assert.match(h.records[0]!.lastError ?? '', /ECONNREFUSED/);
});

test('a huge answer is not read past the cap; a 2xx still counts', async () => {
  await using h = await harness([{ status: 200, body: 'x'.repeat(MAX_RESPONSE_BYTES * 64) }]);
  await h.sender.deliver('job_big', h.receiver.url(), PAYLOAD);
  assert.equal(h.records.length, 1);
  assert.ok(h.records[0]!.deliveredAt);
});

test('stop() during the backoff returns promptly and nothing more is sent', async () => {
  await using h = await harness([{ status: 500 }], { retryForMs: 60_000, initialBackoffMs: 20_000, maxBackoffMs: 20_000 }, () => 0.99);
  const delivery = h.sender.deliver('job_stop', h.receiver.url(), PAYLOAD);
  await h.receiver.received(1);
  while (h.records.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const stopping = performance.now();
  await h.sender.stop();
  await delivery;
  assert.ok(performance.now() - stopping < 200, 'stop() did not wait out the 20 s backoff');
  assert.equal(h.receiver.requests.length, 1);
  assert.equal(h.records.length, 1);
  assert.equal(h.records[0]!.gaveUp, false, 'not given up: a restart continues it');
  // A stopped sender starts nothing.
  await h.sender.deliver('job_after', h.receiver.url(), PAYLOAD);
  assert.equal(h.receiver.requests.length, 1);
});

test('stop() during an attempt aborts it and leaves it unrecorded', async () => {
  await using h = await harness(['hang'], { attemptTimeoutMs: 10_000 });
  const delivery = h.sender.deliver('job_inflight', h.receiver.url(), PAYLOAD);
  await h.receiver.received(1);
  const stopping = performance.now();
  await h.sender.stop();
  await delivery;
  assert.ok(performance.now() - stopping < 200);
  assert.equal(h.records.length, 0);
  while (h.receiver.requests[0]!.closedAt === null) await new Promise((resolve) => setTimeout(resolve, 5));
});

test('after a restart a delivery continues from its record', async () => {
  await using h = await harness([{ status: 200 }], { retryForMs: 60_000 });
  const url = h.receiver.url();
  const firstAttemptAt = new Date(Date.now() - 30_000);
  // Delivered or given up before: nothing is sent, nothing recorded.
  await h.sender.deliver('job_done', url, PAYLOAD, { attempts: 1, firstAttemptAt, deliveredAt: new Date(), gaveUp: false, lastError: null });
  await h.sender.deliver('job_over', url, PAYLOAD, { attempts: 9, firstAttemptAt, deliveredAt: null, gaveUp: true, lastError: 'HTTP 500' });
  assert.equal(h.receiver.requests.length, 0);
  assert.equal(h.records.length, 0);
  // Mid-way: the count goes on, the first attempt stays the first.
  await h.sender.deliver('job_mid', url, PAYLOAD, { attempts: 4, firstAttemptAt, deliveredAt: null, gaveUp: false, lastError: 'HTTP 500' });
  assert.equal(h.receiver.requests.length, 1);
  assert.equal(h.receiver.requests[0]!.headers['jobql-delivery'], deliveryIdFor('job_mid'));
  const mid = h.records.at(-1)!;
  assert.ok(mid.deliveredAt);
  assert.deepEqual(mid, { attempts: 5, firstAttemptAt, deliveredAt: mid.deliveredAt, gaveUp: false, lastError: null });
  // Past the deadline when it comes back: given up without an attempt.
  const old = new Date(Date.now() - 120_000);
  const lastError = 'HTTP 502 Bad Gateway';
  await h.sender.deliver('job_late', url, PAYLOAD, { attempts: 7, firstAttemptAt: old, deliveredAt: null, gaveUp: false, lastError });
  assert.equal(h.receiver.requests.length, 1);
  const late = h.records.at(-1)!;
  assert.equal(late.attempts, 7);
  assert.equal(late.gaveUp, true);
  assert.equal(late.lastError, 'HTTP 502 Bad Gateway');
});

test('a second deliver() of a job in flight joins the first; a failing store does not stop delivery', async () => {
  const receiver = await startReceiver([{ status: 500 }, { status: 200 }]);
  const lines: string[] = [];
  let calls = 0;
  const sender = new WebhookSender({
    config: {
      secret: SECRET,
      previousSecret: null,
      allowedHosts: [`127.0.0.1:${receiver.port}`],
      allowPrivateNetworks: false,
      retryForMs: 5000,
      attemptTimeoutMs: 1000,
      initialBackoffMs: 20,
      maxBackoffMs: 40,
    },
    logger: capturingLogger(lines),
    onRecord: async () => {
      calls += 1;
      throw new Error('store unavailable');
    },
  });
  try {
    const a = sender.deliver('job_twice', receiver.url(), PAYLOAD);
    const b = sender.deliver('job_twice', receiver.url(), PAYLOAD);
    assert.equal(a, b);
    await a;
    assert.equal(receiver.requests.length, 2);
    assert.equal(calls, 2);
    assert.ok(lines.some((l) => l.includes('could not record the webhook delivery')));
  } finally {
    await sender.stop();
    await receiver.close();
  }
});

test('webhooks switched off, or the host taken off the list, since submit: given up unsent', async () => {
  await using h = await harness([{ status: 200 }], { allowedHosts: ['hooks.example.com'] });
  await h.sender.deliver('job_unlisted', h.receiver.url(), PAYLOAD);
  assert.equal(h.receiver.requests.length, 0);
  assert.match(h.records[0]!.lastError ?? '', /^not sent: the webhook host 127\.0\.0\.1:\d+ is not allowed on this server$/);
  assert.equal(h.records[0]!.gaveUp, true);
});
