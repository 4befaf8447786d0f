import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { newApiKey } from '../helpers/auth.ts';
import { collect, gql, submit, waitForEnd, waitForStatus, wsClient } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { waitFor, within } from '../helpers/wait-for.ts';

const code = (response: { errors?: { extensions?: { code?: string } }[] }): string | undefined => response.errors?.[0]?.extensions?.code;
const LONG = 'select count(*) from range(100000000000)';

describe('limits per principal', () => {
  const alice = newApiKey('alice', false);
  const bob = newApiKey('bob', false);
  let server: TestServer;
  before(async () => {
    server = await startServer({
      JOBQL_API_KEYS: `${alice.entry},${bob.entry}`,
      JOBQL_MAX_SUBMISSIONS_PER_MINUTE: '6',
      JOBQL_MAX_ACTIVE_JOBS_PER_PRINCIPAL: '3',
      JOBQL_MAX_CONCURRENT_JOBS: '2',
      JOBQL_MAX_RUNNING_JOBS_PER_PRINCIPAL: '1',
    });
  });
  after(() => server.stop());

  test('one principal holds at most its share of the running slots; another one still runs', async () => {
    const a1 = await submit(server.url, LONG, {}, alice.key);
    const a2 = await submit(server.url, LONG, {}, alice.key);
    const b1 = await submit(server.url, LONG, {}, bob.key);
    await waitForStatus(server.url, a1.id, 'RUNNING', 10_000, alice.key);
    await waitForStatus(server.url, b1.id, 'RUNNING', 10_000, bob.key);
    // Two slots in all, one each: alice's second job waits although it was submitted before bob's.
    const waiting = await gql(server.url, 'query($id: ID!) { job(id: $id) { status } }', { id: a2.id }, alice.key);
    assert.equal(waiting.data?.job.status, 'QUEUED');

    // Unfinished jobs per principal: alice has 2, a third is accepted, a fourth is not.
    await submit(server.url, 'select 1', {}, alice.key);
    const fourth = await gql(server.url, 'mutation { submitQuery(input: {sql: "select 1"}) { job { id } } }', {}, alice.key);
    assert.equal(code(fourth), 'LIMIT_EXCEEDED');

    for (const [job, key] of [[a1, alice.key], [a2, alice.key], [b1, bob.key]] as const) {
      await gql(server.url, 'mutation($id: ID!) { cancelJob(id: $id) { job { id } } }', { id: job.id }, key);
      await waitForEnd(server.url, job.id, 10_000, 'id isTerminal', key);
    }
  });

  test('submissions per minute: past the limit RATE_LIMITED with retryAfterSeconds; others unaffected', async () => {
    // alice has used 4 of her 6 (3 jobs above and one refused: refusals by the active cap still count).
    let limited;
    for (let i = 0; i < 4 && !limited; i++) {
      const response = await gql(server.url, 'mutation { submitQuery(input: {sql: "select 1"}) { job { id } } }', {}, alice.key);
      if (code(response) === 'RATE_LIMITED') limited = response;
    }
    assert.ok(limited, 'never rate limited');
    const retry = limited.errors?.[0]?.extensions?.['retryAfterSeconds'] as number;
    assert.ok(retry > 0 && retry <= 60);
    assert.ok((await submit(server.url, 'select 1', {}, bob.key)).id);
  });
});

describe('idempotencyKey', () => {
  let server: TestServer;
  const alice = newApiKey('alice', false);
  const bob = newApiKey('bob', false);
  before(async () => {
    server = await startServer({ JOBQL_API_KEYS: `${alice.entry},${bob.entry}` });
  });
  after(() => server.stop());

  test('the same key returns the same job, also when 20 submissions race', async () => {
    const first = await submit(server.url, 'select 1', { idempotencyKey: 'k-1' }, alice.key);
    const again = await submit(server.url, 'select 1', { idempotencyKey: 'k-1' }, alice.key);
    assert.equal(again.id, first.id);
    const racing = await Promise.all(
      Array.from({ length: 20 }, () => submit(server.url, 'select 2', { idempotencyKey: 'k-race' }, alice.key)),
    );
    assert.equal(new Set(racing.map((j) => j.id)).size, 1);
    const listed = await gql(server.url, '{ jobs(first: 100) { nodes { id queryText } } }', {}, alice.key);
    assert.equal(listed.data?.jobs.nodes.filter((j: { queryText: string }) => j.queryText === 'select 2').length, 1);
  });

  test('a key reused for another request is BAD_USER_INPUT; another principal\'s same key is its own', async () => {
    await submit(server.url, 'select 1', { idempotencyKey: 'k-2' }, alice.key);
    const other = await gql(server.url, 'mutation { submitQuery(input: {sql: "select 99", idempotencyKey: "k-2"}) { job { id } } }', {}, alice.key);
    assert.equal(code(other), 'BAD_USER_INPUT');
    const bobs = await submit(server.url, 'select 1', { idempotencyKey: 'k-2' }, bob.key);
    const alices = await submit(server.url, 'select 1', { idempotencyKey: 'k-2' }, alice.key);
    assert.notEqual(bobs.id, alices.id);
  });

  test('after the window the key makes a new job', async () => {
    const short = await startServer({ JOBQL_IDEMPOTENCY_WINDOW_SECONDS: '1' });
    try {
      const first = await submit(short.url, 'select 1', { idempotencyKey: 'k' });
      // A real wait: the window (at least 1 s) is measured by the server's own clock.
      await new Promise((r) => setTimeout(r, 1100));
      const later = await submit(short.url, 'select 1', { idempotencyKey: 'k' });
      assert.notEqual(later.id, first.id);
    } finally {
      await short.stop();
    }
  });
});

describe('document and transport limits', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      JOBQL_GRAPHQL_MAX_DEPTH: '5',
      JOBQL_GRAPHQL_MAX_ALIASES: '3',
      JOBQL_GRAPHQL_MAX_TOKENS: '200',
      JOBQL_MAX_REQUEST_BYTES: '4096',
      JOBQL_MAX_SUBSCRIPTIONS_PER_SOCKET: '2',
      JOBQL_MAX_SOCKETS_PER_PRINCIPAL: '3',
    });
  });
  after(() => server.stop());

  // Depth 5 (jobs > edges > node > result > totalRows) passes; one level more does not.
  const CASES = {
    aliases: ['{ a: jobs { pageInfo { hasNextPage } } b: jobs { pageInfo { hasNextPage } } c: jobs { pageInfo { hasNextPage } } }',
      '{ a: jobs { pageInfo { hasNextPage } } b: jobs { pageInfo { hasNextPage } } c: jobs { pageInfo { hasNextPage } } d: jobs { pageInfo { hasNextPage } } }'],
    tokens: ['{ jobs { nodes { id } } }', `{ jobs { nodes { ${'id '.repeat(250)} } } }`],
  };

  test('at the limit passes, over it is LIMIT_EXCEEDED without the limit in the message (HTTP)', async () => {
    const ok = await gql(server.url, CASES.aliases[0] as string);
    assert.equal(ok.errors, undefined, JSON.stringify(ok.errors));
    for (const query of [CASES.aliases[1], CASES.tokens[1]] as string[]) {
      const response = await gql(server.url, query);
      assert.equal(code(response), 'LIMIT_EXCEEDED', JSON.stringify(response));
      assert.doesNotMatch(response.errors?.[0]?.message ?? '', /\d/);
    }
    const long = await gql(server.url, `{ job(id: "${'x'.repeat(20_000)}") { id } }`);
    assert.equal(code(long), 'LIMIT_EXCEEDED', JSON.stringify(long).slice(0, 300));
    const deep = await gql(server.url, '{ jobs { edges { node { result { columns { name } } } } } }');
    assert.equal(code(deep), 'LIMIT_EXCEEDED', JSON.stringify(deep));
    // Cost (default 50,000): one full page passes; a hundred jobs with a full page each do not.
    const page = await gql(server.url, '{ jobs { nodes { id } } job(id: "x") { result(first: 1000) { rows totalRows } } }');
    assert.equal(page.errors, undefined, JSON.stringify(page.errors));
    const costly = await gql(server.url, '{ jobs(first: 100) { nodes { result(first: 1000) { rows } } } }');
    assert.equal(code(costly), 'LIMIT_EXCEEDED', JSON.stringify(costly));
    const shallow = await gql(server.url, '{ jobs { edges { node { result { totalRows } } } } }');
    assert.equal(shallow.errors, undefined, JSON.stringify(shallow.errors));
  });

  test('the cost counts `first` from a variable (or its default) as it counts a literal, over HTTP and WebSocket', async () => {
    const paged = 'query($n: Int, $m: Int) { jobs(first: $n) { nodes { result(first: $m) { rows } } } }';
    assert.equal(code(await gql(server.url, paged, { n: 100, m: 1000 })), 'LIMIT_EXCEEDED');
    const defaulted = await gql(server.url, 'query($n: Int = 100, $m: Int = 1000) { jobs(first: $n) { nodes { result(first: $m) { rows } } } }');
    assert.equal(code(defaulted), 'LIMIT_EXCEEDED');
    const cheap = await gql(server.url, paged, { n: 2, m: 10 });
    assert.equal(cheap.errors, undefined, JSON.stringify(cheap.errors));
    const client = wsClient(server.wsUrl);
    try {
      const result = await collect(client, paged, { n: 100, m: 1000 });
      assert.equal((result.errors as { extensions: { code: string } }[])[0]?.extensions.code, 'LIMIT_EXCEEDED');
    } finally {
      await client.dispose();
    }
  });

  test('the same limits over WebSocket end the operation, not the socket', async () => {
    const client = wsClient(server.wsUrl);
    try {
      for (const query of [CASES.aliases[1], CASES.tokens[1], '{ jobs { edges { node { result { columns { name } } } } } }'] as string[]) {
        const result = await collect(client, query);
        assert.equal((result.errors as { extensions: { code: string } }[])[0]?.extensions.code, 'LIMIT_EXCEEDED');
      }
      const fine = await collect(client, '{ jobs { nodes { id } } }');
      assert.equal(fine.errors, null);
    } finally {
      await client.dispose();
    }
  });

  test('a request body over JOBQL_MAX_REQUEST_BYTES is 413 LIMIT_EXCEEDED; a chunked one is 411', async () => {
    const big = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ jobs { nodes { id } } }', variables: { pad: 'x'.repeat(5000) } }),
    });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code, 'LIMIT_EXCEEDED');
    const chunked = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"query":"{ __typename }"}'));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(chunked.status, 411);
  });

  test('subscriptions per socket: the one over the cap is an error, the others and the socket carry on', async () => {
    const client = wsClient(server.wsUrl);
    try {
      const long = await submit(server.url, LONG);
      const events: string[][] = [[], []];
      // Each subscription completes after the job's last event: the two ends are awaited below.
      const ended = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
      const open = [0, 1].map((i) =>
        client.subscribe<{ jobStatus: { status: string } }>(
          { query: 'subscription($id: ID!) { jobStatus(id: $id) { status } }', variables: { id: long.id } },
          {
            next: (v) => events[i]?.push(v.data?.jobStatus.status ?? ''),
            error: (error) => ended[i]?.reject(error),
            complete: () => ended[i]?.resolve(),
          },
        ),
      );
      const third = await collect(client, 'subscription($id: ID!) { jobStatus(id: $id) { status } }', { id: long.id });
      assert.equal((third.errors as { extensions: { code: string } }[])[0]?.extensions.code, 'LIMIT_EXCEEDED');
      await gql(server.url, 'mutation($id: ID!) { cancelJob(id: $id) { job { id } } }', { id: long.id });
      await waitForEnd(server.url, long.id);
      await within(Promise.all(ended.map((end) => end.promise)), { timeoutMs: 5000, what: 'the two subscriptions to complete' });
      for (const list of events) assert.equal(list.at(-1), 'ABORTED');
      for (const dispose of open) dispose();
    } finally {
      await client.dispose();
    }
  });

  test('sockets per principal: the one over the cap is closed with 4029; closing one frees a place', async () => {
    const open = async (): Promise<{ socket: WebSocket; outcome: Promise<number | 'ack'> }> => {
      const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
      const outcome = new Promise<number | 'ack'>((resolve) => {
        socket.on('message', (d) => JSON.parse(String(d)).type === 'connection_ack' && resolve('ack'));
        socket.once('close', (c) => resolve(c));
      });
      await new Promise((r) => socket.once('open', r));
      socket.send(JSON.stringify({ type: 'connection_init' }));
      return { socket, outcome };
    };
    const sockets = [await open(), await open(), await open()];
    for (const s of sockets) assert.equal(await s.outcome, 'ack');
    const fourth = await open();
    assert.equal(await fourth.outcome, 4029);
    sockets[0]?.socket.close();
    await new Promise((r) => sockets[0]?.socket.once('close', r));
    // The server frees the place when it sees the close, a moment after the client does: once
    // only the two open sockets are left (the refused fourth is gone too).
    await waitFor(() => server.app.sockets() === 2, { timeoutMs: 5000, what: () => `the server to see the close (${server.app.sockets()} sockets open)` });
    const again = await open();
    assert.equal(await again.outcome, 'ack');
    for (const s of [...sockets.slice(1), again]) s.socket.close();
  });
});
