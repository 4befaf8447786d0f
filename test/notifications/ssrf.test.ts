import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { classifyAddress } from '../../src/notifications/address-class.ts';
import { chooseAddress, type Resolver } from '../../src/notifications/address-policy.ts';
import type { WebhookConfig } from '../../src/notifications/webhook-config.ts';
import { postWebhook } from '../../src/notifications/webhook-request.ts';
import { type DeliveryRecord, WebhookSender } from '../../src/notifications/webhook-sender.ts';
import { checkWebhookUrl } from '../../src/notifications/webhook-url.ts';
import { capturingLogger, type Receiver, startReceiver } from './receiver.ts';

const SECRET = 'ssrf-test-secret-0123456789abcdef-0123';

test('addresses are classified by the special-purpose ranges, IPv4 embedded in IPv6 included', () => {
  const cases: [string, string][] = [
    ['93.184.215.14', 'public'],
    ['8.8.8.8', 'public'],
    ['2606:4700::1111', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.1.1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fc00::1', 'private'],
    ['100.64.0.1', 'shared'],
    ['100.100.100.200', 'shared'], // Alibaba Cloud metadata
    ['100.128.0.1', 'public'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fd00:ec2::254', 'metadata'],
    ['0.0.0.0', 'unroutable'],
    ['::', 'unroutable'],
    ['224.0.0.1', 'unroutable'],
    ['255.255.255.255', 'unroutable'],
    ['ff02::1', 'unroutable'],
    ['192.0.2.1', 'special'],
    ['2001:db8::1', 'special'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:8.8.8.8', 'public'],
    ['64:ff9b::127.0.0.1', 'loopback'], // NAT64
    ['2002:7f00:1::', 'loopback'], // 6to4
    ['::127.0.0.1', 'unroutable'], // IPv4-compatible, deprecated
  ];
  for (const [address, expected] of cases) assert.equal(classifyAddress(address)?.class, expected, address);
  assert.equal(classifyAddress('hooks.example.com'), null);
  assert.equal(classifyAddress('1.2.3'), null);
  assert.match(classifyAddress('::ffff:127.0.0.1')!.description, /IPv4-mapped form of 127\.0\.0\.1, loopback/);
});

/** A resolver that knows only the names it is given (so no test depends on the network's DNS). */
const resolverOf =
  (names: Record<string, string[]>): Resolver =>
  async (hostname) => {
    const addresses = names[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

async function choose(url: string, allowedHosts: string[], names: Record<string, string[]>, allowPrivateNetworks = false) {
  const check = checkWebhookUrl(url, { secret: SECRET, allowedHosts });
  assert.ok(check.ok, `${url} should pass the URL check`);
  return chooseAddress(check.url, check.kind, allowPrivateNetworks, resolverOf(names));
}

test('a listed name must resolve to public addresses only, every one of them', async () => {
  const ok = await choose('https://hooks.example.com/x', ['hooks.example.com'], { 'hooks.example.com': ['93.184.215.14', '2606:2800::1'] });
  assert.deepEqual(ok, { ok: true, address: '93.184.215.14', family: 4 });
  const refusals: [string[], RegExp][] = [
    [['127.0.0.1'], /resolves to 127\.0\.0\.1 \(loopback\)/],
    [['::1'], /resolves to ::1 \(loopback\)/],
    [['::ffff:127.0.0.1'], /IPv4-mapped form of 127\.0\.0\.1, loopback/],
    [['169.254.169.254'], /169\.254\.169\.254 \(link-local, where cloud metadata lives\)/],
    [['10.0.0.7'], /private, RFC 1918/],
    [['fd00::7'], /unique local/],
    [['100.64.1.1'], /carrier-grade NAT/],
    [['0.0.0.0'], /unspecified/],
    [['93.184.215.14', '127.0.0.1'], /127\.0\.0\.1 \(loopback\)/], // a public answer does not excuse an internal one
  ];
  for (const [addresses, why] of refusals) {
    const choice = await choose('https://hooks.example.com/x', ['hooks.example.com'], { 'hooks.example.com': addresses });
    assert.equal(choice.ok, false, addresses.join());
    assert.match(choice.ok ? '' : choice.reason, why);
  }
});

test('the private-network opt-in admits RFC 1918 and ULA, never loopback, link-local, CGNAT or metadata', async () => {
  const url = 'https://hooks.internal/x';
  for (const address of ['10.0.0.7', '192.168.3.4', 'fd00::7']) {
    assert.equal((await choose(url, ['hooks.internal'], { 'hooks.internal': [address] }, true)).ok, true, address);
  }
  for (const address of ['127.0.0.1', '::1', '169.254.169.254', 'fe80::1', '100.100.100.200', 'fd00:ec2::254', '::ffff:127.0.0.1']) {
    assert.equal((await choose(url, ['hooks.internal'], { 'hooks.internal': [address] }, true)).ok, false, address);
  }
});

test('an IP literal on the list is that address (if routable); `localhost` means loopback only', async () => {
  assert.deepEqual(await choose('http://10.0.0.5:8080/', ['10.0.0.5:8080'], {}), { ok: true, address: '10.0.0.5', family: 4 });
  assert.deepEqual(await choose('http://[::1]:8080/', ['[::1]:8080'], {}), { ok: true, address: '::1', family: 6 });
  assert.deepEqual(await choose('http://169.254.169.254/', ['169.254.169.254'], {}), { ok: true, address: '169.254.169.254', family: 4 });
  const zero = await choose('http://0.0.0.0:8080/', ['0.0.0.0:8080'], {});
  assert.equal(zero.ok, false, '0.0.0.0 reaches the host itself; never a receiver');
  assert.equal((await choose('http://localhost:8080/', ['localhost:8080'], { localhost: ['127.0.0.1', '::1'] })).ok, true);
  const odd = await choose('http://localhost:8080/', ['localhost:8080'], { localhost: ['93.184.215.14'] });
  assert.equal(odd.ok, false);
});

test('the URL check already refuses what the list does not name: metadata, [::1], mapped forms, localhost', () => {
  const only = { secret: SECRET, allowedHosts: ['hooks.example.com', '127.0.0.1:8080'] };
  for (const url of [
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]:8080/',
    'http://[::ffff:127.0.0.1]:8080/',
    'http://[::ffff:7f00:1]:8080/',
    'http://localhost:8080/',
    'http://127.0.0.1:8081/',
    'http://metadata.google.internal/',
  ]) {
    assert.equal(checkWebhookUrl(url, only).ok, false, url);
  }
});

/* ---- the same rules on real deliveries: nothing reaches the receiver on 127.0.0.1 ---- */

let receiver: Receiver;
let other: Receiver;
before(async () => {
  receiver = await startReceiver([{ status: 200 }]);
  other = await startReceiver([{ status: 200 }]);
});
after(async () => {
  await receiver.close();
  await other.close();
});

function senderFor(config: Partial<WebhookConfig>, names: Record<string, string[]> = {}) {
  const records: DeliveryRecord[] = [];
  const logger = capturingLogger();
  const sender = new WebhookSender({
    config: {
      secret: SECRET,
      previousSecret: null,
      allowedHosts: [],
      allowPrivateNetworks: false,
      retryForMs: 0, // one attempt, no retry
      attemptTimeoutMs: 2000,
      initialBackoffMs: 10,
      maxBackoffMs: 10,
      ...config,
    },
    logger,
    onRecord: async (_jobId, record) => {
      records.push(record);
    },
    ...(Object.keys(names).length > 0 ? { resolve: resolverOf(names) } : {}),
  });
  return { sender, records, logger };
}

test('a listed public-looking name that resolves to 127.0.0.1 is refused before connecting', async () => {
  const before = receiver.requests.length;
  const { sender, records } = senderFor(
    { allowedHosts: [`hooks.example.com:${receiver.port}`], allowPrivateNetworks: true },
    { 'hooks.example.com': ['127.0.0.1'] },
  );
  await sender.deliver('job_rebind', `http://hooks.example.com:${receiver.port}/hook`, { event: 'job.ended' });
  assert.equal(receiver.requests.length, before, 'no request reached the receiver');
  assert.equal(records.length, 1);
  assert.equal(records[0]!.attempts, 1);
  assert.equal(records[0]!.deliveredAt, null);
  assert.equal(records[0]!.gaveUp, true);
  assert.match(records[0]!.lastError ?? '', /hooks\.example\.com resolves to 127\.0\.0\.1 \(loopback\), which webhooks may not reach/);
  await sender.stop();
});

test('`localhost` when only a public-looking name is listed: not sent at all (real DNS)', async () => {
  const before = receiver.requests.length;
  const { sender, records } = senderFor({ allowedHosts: ['hooks.example.com'] });
  await sender.deliver('job_localhost', `http://localhost:${receiver.port}/hook`, { event: 'job.ended' });
  assert.equal(receiver.requests.length, before);
  assert.equal(records.length, 1);
  assert.equal(records[0]!.attempts, 0);
  assert.match(records[0]!.lastError ?? '', /^not sent: the webhook host localhost:\d+ is not allowed/);
  assert.equal(records[0]!.gaveUp, true);
});

test('`localhost` listed explicitly reaches the loopback receiver (real DNS)', async () => {
  const before = receiver.requests.length;
  const { sender, records } = senderFor({ allowedHosts: [`localhost:${receiver.port}`] });
  await sender.deliver('job_local_ok', `http://localhost:${receiver.port}/hook`, { event: 'job.ended' });
  assert.equal(receiver.requests.length, before + 1);
  assert.equal(receiver.requests.at(-1)!.headers.host, `localhost:${receiver.port}`, 'Host is the URL’s host');
  assert.ok(records.at(-1)!.deliveredAt);
});

test('names resolving to 169.254.169.254, ::1 or ::ffff:127.0.0.1 are refused on delivery', async () => {
  for (const address of ['169.254.169.254', '::1', '::ffff:127.0.0.1']) {
    const { sender, records } = senderFor(
      { allowedHosts: [`hooks.example.com:${receiver.port}`], allowPrivateNetworks: true },
      { 'hooks.example.com': [address] },
    );
    const before = receiver.requests.length;
    await sender.deliver(`job_${address}`, `http://hooks.example.com:${receiver.port}/hook`, {});
    assert.equal(receiver.requests.length, before, address);
    assert.match(records[0]!.lastError ?? '', /which webhooks may not reach/, address);
  }
});

test('the request connects to the checked address only, with the URL’s host as Host (no second lookup)', async () => {
  // `.invalid` never resolves (RFC 6761): the request can only arrive if the pinned address is used.
  const before = receiver.requests.length;
  const response = await postWebhook({
    url: new URL(`http://pinned.invalid:${receiver.port}/hook?x=1`),
    address: '127.0.0.1',
    family: 4,
    headers: { 'content-type': 'application/json' },
    body: '{}',
    signal: new AbortController().signal,
  });
  assert.deepEqual(response, { delivered: true, status: 200 });
  assert.equal(receiver.requests.length, before + 1);
  assert.equal(receiver.requests.at(-1)!.path, '/hook?x=1');
  assert.equal(receiver.requests.at(-1)!.headers.host, `pinned.invalid:${receiver.port}`);
});

test('a 302 from an allowed receiver to another allowed receiver is not followed', async () => {
  const redirecting = await startReceiver([{ status: 302, headers: { location: other.url('/stolen') } }]);
  try {
    const before = other.requests.length;
    const { sender, records } = senderFor({ allowedHosts: [`127.0.0.1:${redirecting.port}`, `127.0.0.1:${other.port}`] });
    await sender.deliver('job_redirect', redirecting.url(), { event: 'job.ended' });
    assert.equal(redirecting.requests.length, 1);
    assert.equal(other.requests.length, before, 'the redirect target got nothing');
    assert.equal(records.length, 1);
    assert.equal(records[0]!.deliveredAt, null);
    assert.match(records[0]!.lastError ?? '', /^HTTP 302 Found: redirects are not followed \(Location: http:\/\/127\.0\.0\.1:\d+\/stolen\)$/);
  } finally {
    await redirecting.close();
  }
});
