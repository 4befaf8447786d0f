import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.ts';
import { gqlData } from '../helpers/client.ts';
import { startServer, tempDir } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait-for.ts';

// The lease pass takes jobs in batches of 500, and the store answers with the instance's own
// leases first: an instance holding more than a batch once asked for the same 500 forever (the
// synchronous SQLite store turned that into a hung server).
test('a restart with more running jobs than one lease batch takes them all and stays responsive', async () => {
  const dataDir = tempDir();
  const store = new SqliteJobStore(path.join(dataDir, 'jobs.sqlite'));
  const at = new Date();
  for (let i = 0; i < 1200; i++) {
    const job = await store.insert({
      id: `job_many_${i}`,
      owner: 'local',
      idempotencyKey: null,
      queryText: `select ${i}`,
      bindings: [],
      tag: 'many',
      timeoutSeconds: null,
      statementCount: 1,
      submittedAt: at,
    });
    await store.claim(job.id, at, { holder: 'local', until: new Date(at.getTime() + 3_600_000) });
    await store.update(job.id, { queryId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` });
  }
  await store.close();

  const server = await startServer({ JOBQL_POLL_BACKOFF_MS: '50' }, dataDir);
  try {
    // The embedded engine forgot them all: each ends JOB_INTERRUPTED, none is left running.
    let unfinished = Infinity;
    await waitFor(
      async () => {
        const data = await gqlData(server.url, '{ jobs(first: 100, filter: {tag: "many", status: [RUNNING, QUEUED]}) { edges { node { id } } } }');
        unfinished = data.jobs.edges.length;
        return unfinished === 0;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: () => `every job to end (${unfinished} of the first 100 still unfinished)` },
    );
    const ended = await gqlData(server.url, '{ jobs(first: 1, filter: {tag: "many"}) { edges { node { status error { code } } } } }');
    assert.equal(ended.jobs.edges[0].node.status, 'FAILED_WITH_INCIDENT');
    assert.equal(ended.jobs.edges[0].node.error.code, 'JOB_INTERRUPTED');
  } finally {
    await server.stop();
  }
});
