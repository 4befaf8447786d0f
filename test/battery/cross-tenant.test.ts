/**
 * The cross-tenant matrix: four principals (two JWT users, two API keys), each with jobs in every
 * kind of state, and every other principal trying every operation on each of them. A foreign job
 * must answer exactly as an unknown id: same status, same error code, same shape. Counts are
 * printed for docs/SECURITY.md.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type Issuer, jwtEnv, makeIssuer, newApiKey } from '../helpers/auth.ts';
import { collect, gql, submit, waitForEnd, waitForStatus, wsClient } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

interface Victim {
  owner: string;
  id: string;
  queryId: string | null;
}

const LONG = 'select count(*) from range(100000000000)';

let server: TestServer;
let issuer: Issuer;
const tokens = new Map<string, string>();
const victims: Victim[] = [];

before(async () => {
  issuer = await makeIssuer();
  const k1 = newApiKey('svc-1', false);
  const k2 = newApiKey('svc-2', false);
  server = await startServer(
    jwtEnv(issuer, {
      JOBQL_API_KEYS: `${k1.entry},${k2.entry}`,
      JOBQL_MAX_CONCURRENT_JOBS: '4',
      JOBQL_MAX_RUNNING_JOBS_PER_PRINCIPAL: '1',
    }),
  );
  tokens.set('user:ann', await issuer.token('ann'));
  tokens.set('user:ben', await issuer.token('ben'));
  tokens.set('key:svc-1', k1.key);
  tokens.set('key:svc-2', k2.key);
  // Per principal: a finished job (with a result), a failed one, a running one, a queued one
  // (held back by the one-running-job-per-principal cap).
  for (const [owner, token] of tokens) {
    const done = await submit(server.url, `select '${owner}' as secret`, {}, token);
    const failed = await submit(server.url, 'select * from no_such_table', {}, token);
    await waitForEnd(server.url, done.id, 10_000, 'id isTerminal', token);
    await waitForEnd(server.url, failed.id, 10_000, 'id isTerminal', token);
    const running = await submit(server.url, LONG, {}, token);
    await waitForStatus(server.url, running.id, 'RUNNING', 10_000, token);
    const queued = await submit(server.url, LONG, {}, token);
    for (const job of [done, failed, running, queued]) {
      const read = await gql(server.url, 'query($id: ID!) { job(id: $id) { id queryId } }', { id: job.id }, token);
      victims.push({ owner, id: job.id, queryId: read.data?.job.queryId ?? null });
    }
  }
});

after(async () => {
  for (const victim of victims) {
    await gql(server.url, 'mutation($id: ID!) { cancelJob(id: $id) { job { id } } }', { id: victim.id }, tokens.get(victim.owner));
  }
  await server.stop();
});

/** What an operation answers for an id, reduced to what a client could compare. */
type Probe = (id: string, token: string, victim: Victim) => Promise<string>;

const PROBES: Record<string, Probe> = {
  job: async (id, token) => {
    const r = await gql(server.url, 'query($id: ID!) { job(id: $id) { id result { rows } } }', { id }, token);
    return JSON.stringify({ data: r.data, errors: r.errors?.map((e) => e.extensions?.code) });
  },
  jobs: async (id, token) => {
    const r = await gql(server.url, '{ jobs(first: 100) { nodes { id } } }', {}, token);
    return r.data?.jobs.nodes.some((j: { id: string }) => j.id === id) ? 'listed' : 'absent';
  },
  cancelJob: async (id, token) => {
    const r = await gql(server.url, 'mutation($id: ID!) { cancelJob(id: $id) { job { id status } } }', { id }, token);
    return JSON.stringify({ data: r.data, errors: r.errors?.map((e) => e.extensions?.code) });
  },
  jobStatus: async (id, token) => {
    const client = wsClient(server.wsUrl, token);
    try {
      const r = await collect(client, 'subscription($id: ID!) { jobStatus(id: $id) { status } }', { id });
      return JSON.stringify({ events: r.events.length, errors: (r.errors as { extensions?: { code?: string } }[] | null)?.map((e) => e.extensions?.code) });
    } finally {
      await client.dispose();
    }
  },
  ...Object.fromEntries(
    ['csv', 'ndjson', 'arrow', 'parquet'].map((format) => [
      `download.${format}`,
      (async (id, token) => {
        const response = await fetch(server.url.replace('/graphql', `/jobs/${encodeURIComponent(id)}/result.${format}`), {
          headers: { authorization: `Bearer ${token}` },
        });
        const body = (await response.json().catch(() => null)) as { errors?: { extensions: { code: string } }[] } | null;
        return JSON.stringify({ status: response.status, code: body?.errors?.[0]?.extensions.code });
      }) satisfies Probe,
    ]),
  ),
  attachQuery: async (_id, token, victim) => {
    const queryId = victim.queryId ?? randomUUID();
    const r = await gql(server.url, 'mutation($q: String!) { attachQuery(queryId: $q) { job { id } } }', { q: queryId }, token);
    return JSON.stringify({ data: r.data, errors: r.errors?.map((e) => e.extensions?.code) });
  },
};

describe('cross-tenant matrix', () => {
  test('every principal × every foreign job × every operation answers as for an unknown id', async () => {
    let attempts = 0;
    const leaks: string[] = [];
    for (const [attacker, token] of tokens) {
      for (const victim of victims.filter((v) => v.owner !== attacker)) {
        for (const [name, probe] of Object.entries(PROBES)) {
          // The same operation on an id that does not exist, shaped like a real one.
          const unknownId = `job_${randomUUID().replaceAll('-', '')}`;
          const [foreign, unknown] = await Promise.all([probe(victim.id, token, victim), probe(unknownId, token, { ...victim, id: unknownId })]);
          attempts += 1;
          if (foreign !== unknown.replaceAll(unknownId, victim.id)) leaks.push(`${attacker} ${name} ${victim.id}: ${foreign} vs ${unknown}`);
        }
      }
    }
    console.log(`cross-tenant matrix: ${attempts} attempts, ${leaks.length} answered differently from an unknown id`);
    assert.ok(attempts >= 200, `only ${attempts} attempts`);
    assert.deepEqual(leaks, []);
  });

  test('after the matrix every victim job is as its owner left it, and its owner still reads it', async () => {
    for (const victim of victims) {
      const r = await gql(server.url, 'query($id: ID!) { job(id: $id) { id status } }', { id: victim.id }, tokens.get(victim.owner));
      assert.equal(r.data?.job.id, victim.id);
      assert.notEqual(r.data?.job.status, 'ABORTED', `${victim.id} was cancelled by someone else`);
      assert.notEqual(r.data?.job.status, 'ABORTING');
    }
  });
});
