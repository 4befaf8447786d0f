/** Results expire after JOBQL_RESULT_TTL_SECONDS: RESULT_EXPIRED, storage freed, across restarts. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { gql, submit, waitForEnd } from '../helpers/client.ts';
import { startServer, tempDir } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait-for.ts';

const READ = 'query($id: ID!) { job(id: $id) { status isFailed resultExpiresAt result { rows } } }';

/** The result's files on disk: one under its query id, one under its job id. */
function storedFiles(dataDir: string, job: { id: string; queryId: string }): string[] {
  return [job.queryId, job.id].filter((id) => fs.existsSync(path.join(dataDir, 'results', `${id}.parquet`)));
}

test('a result is readable until resultExpiresAt, then RESULT_EXPIRED, deleted, and still so after a restart', async () => {
  const dataDir = tempDir();
  const env = { JOBQL_RESULT_TTL_SECONDS: '1' };
  let server = await startServer(env, dataDir);
  try {
    const job = await submit(server.url, 'select range from range(3)');
    const ended = await waitForEnd(server.url, job.id);
    const fresh = await gql(server.url, READ, { id: job.id });
    assert.deepEqual(fresh.data?.job.result.rows, [[0], [1], [2]]);
    assert.equal(Date.parse(fresh.data?.job.resultExpiresAt) - Date.parse(ended.endedAt), 1000);
    assert.equal(storedFiles(dataDir, ended).length, 2);

    // A real wait: the TTL is measured by the server's clock, so wait out the time until resultExpiresAt.
    const expiresAt = Date.parse(fresh.data?.job.resultExpiresAt);
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 50));
    const expired = await gql(server.url, READ, { id: job.id });
    assert.equal(expired.errors?.[0]?.extensions?.code, 'RESULT_EXPIRED');
    assert.equal(expired.data?.job.status, 'SUCCESS', 'an expired result is not a failed job');
    assert.equal(expired.data?.job.isFailed, false);
    assert.equal(expired.data?.job.result, null);
    // The sweeper runs every TTL (1 s here): its next pass deletes the stored result.
    await waitFor(() => storedFiles(dataDir, ended).length === 0, {
      timeoutMs: 5000,
      what: () => `the sweeper to delete the stored result (left: ${storedFiles(dataDir, ended).join(', ')})`,
    });

    await server.stop();
    server = await startServer(env, dataDir);
    const afterRestart = await gql(server.url, READ, { id: job.id });
    assert.equal(afterRestart.errors?.[0]?.extensions?.code, 'RESULT_EXPIRED');
    assert.equal(afterRestart.data?.job.resultExpiresAt, fresh.data?.job.resultExpiresAt);
  } finally {
    await server.stop();
  }
});

test('failed and cancelled jobs have no resultExpiresAt', async () => {
  const server = await startServer();
  try {
    const failed = await waitForEnd(server.url, (await submit(server.url, 'select * from nowhere')).id);
    const running = await submit(server.url, 'select sum(hash(range)) from range(10000000000)');
    await gql(server.url, 'mutation($id: ID!) { cancelJob(id: $id) { job { id } } }', { id: running.id });
    const cancelled = await waitForEnd(server.url, running.id);
    assert.equal(cancelled.status, 'ABORTED');
    for (const job of [failed, cancelled]) {
      const read = await gql(server.url, READ, { id: job.id });
      assert.equal(read.data?.job.resultExpiresAt, null);
      assert.equal(read.data?.job.result, null);
      assert.equal(read.errors, undefined);
    }
  } finally {
    await server.stop();
  }
});
