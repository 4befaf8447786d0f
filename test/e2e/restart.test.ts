/**
 * Durability across process deaths: the server runs as its own process (`node src/main.ts`), is
 * killed with SIGKILL or stopped with SIGTERM, and a new process on the same data directory must
 * have every finished job and result, and no job stuck in a running state.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { collect, gqlData, submit, waitForEnd, waitForStatus, wsClient } from '../helpers/client.ts';
import { runToExit, spawnServer } from '../helpers/process.ts';
import { tempDir } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait-for.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const LONG_SQL = 'select sum(hash(range)) from range(10000000000)';

describe('restart durability', () => {
  test('after kill -9: finished jobs and results intact, running job FAILED_WITH_INCIDENT, queued job runs', async () => {
    const dataDir = tempDir();
    const env = { JOBQL_DATA_DIR: dataDir, JOBQL_MAX_CONCURRENT_JOBS: '1' };
    const first = await spawnServer(env);
    let done: any;
    let running: any;
    let queued: any;
    try {
      done = await submit(first.url, 'select range as n from range(3000)');
      await waitForEnd(first.url, done.id);
      running = await submit(first.url, LONG_SQL);
      await waitForStatus(first.url, running.id, 'RUNNING');
      queued = await submit(first.url, 'select 99 as late');
    } finally {
      first.child.kill('SIGKILL');
    }
    assert.equal((await first.exited).signal, 'SIGKILL');

    const second = await spawnServer(env);
    try {
      const finished = await gqlData(
        second.url,
        `query($id: ID!) { job(id: $id) { status result(first: 1000, after: "${Buffer.from('row:2500').toString('base64url')}") { rows totalRows } } }`,
        { id: done.id },
      );
      assert.equal(finished.job.status, 'SUCCESS');
      assert.equal(finished.job.result.totalRows, 3000);
      assert.equal(finished.job.result.rows.length, 500, 'a cursor made before the restart still works');
      assert.deepEqual(finished.job.result.rows[0], [2500]);

      const interrupted = await waitForEnd(second.url, running.id, 10_000);
      assert.equal(interrupted.status, 'FAILED_WITH_INCIDENT');
      assert.equal(interrupted.isFailed, true);
      assert.equal(interrupted.error.code, 'JOB_INTERRUPTED');
      assert.match(interrupted.error.message, /restarted/);

      const resumed = await waitForEnd(second.url, queued.id, 10_000);
      assert.equal(resumed.status, 'SUCCESS', 'a job that never reached the warehouse runs after the restart');

      // A subscriber after the restart still gets the terminal state and completion.
      const client = wsClient(second.wsUrl);
      const { events } = await collect(client, 'subscription($id: ID!) { jobStatus(id: $id) { status } }', {
        id: running.id,
      });
      await client.dispose();
      assert.deepEqual(
        events.map((e) => e.jobStatus.status),
        ['FAILED_WITH_INCIDENT'],
      );

      const stuck = await gqlData(second.url, '{ jobs(filter: {status: [QUEUED, RUNNING, ABORTING]}) { nodes { id } } }');
      assert.deepEqual(stuck.jobs.nodes, []);
    } finally {
      second.child.kill('SIGKILL');
      await second.exited;
    }
  });

  test('SIGTERM drains: sockets close with 1001, the running job ends with a clear status, exit 0', async () => {
    const dataDir = tempDir();
    const env = { JOBQL_DATA_DIR: dataDir, JOBQL_SHUTDOWN_GRACE_MS: '500' };
    const server = await spawnServer(env);
    const running = await submit(server.url, LONG_SQL);
    await waitForStatus(server.url, running.id, 'RUNNING');
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    await new Promise((resolve) => socket.once('open', resolve));
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));

    server.child.kill('SIGTERM');
    const { code } = await server.exited;
    assert.equal(code, 0);
    assert.equal(await closed, 1001);
    assert.match(server.output(), /shutting down/);

    const again = await spawnServer(env);
    try {
      const ended = await waitForEnd(again.url, running.id, 5000);
      assert.equal(ended.status, 'FAILED_WITH_INCIDENT');
      assert.equal(ended.error.code, 'JOB_INTERRUPTED');
      assert.match(ended.error.message, /shut down/);
    } finally {
      again.child.kill('SIGKILL');
      await again.exited;
    }
  });
});

describe('Ctrl-C in a terminal', () => {
  test('SIGINT to the whole process group drains like SIGTERM: the engine is not killed by it', async () => {
    const dataDir = tempDir();
    const env = { JOBQL_DATA_DIR: dataDir, JOBQL_SHUTDOWN_GRACE_MS: '500' };
    const server = await spawnServer(env, { group: true });
    const running = await submit(server.url, LONG_SQL);
    await waitForStatus(server.url, running.id, 'RUNNING');

    // What a terminal does on Ctrl-C: the signal goes to every process of the foreground group.
    process.kill(-server.child.pid!, 'SIGINT');
    const { code } = await server.exited;
    assert.equal(code, 0);
    assert.match(server.output(), /"signal":"SIGINT".*shutting down/);
    assert.doesNotMatch(server.output(), /"reason":"crash"/);

    const again = await spawnServer(env);
    try {
      const ended = await waitForEnd(again.url, running.id, 5000);
      // Interrupted by the drain, as with SIGTERM; not ENGINE_CRASHED, which a signalled engine gave.
      assert.equal(ended.status, 'FAILED_WITH_INCIDENT');
      assert.equal(ended.error.code, 'JOB_INTERRUPTED');
    } finally {
      again.child.kill('SIGKILL');
      await again.exited;
    }
  });
});

describe('npm start', () => {
  test('SIGTERM to npm reaches the server, which drains and exits with it (no orphan)', async () => {
    // Under `npm test`, the npm that runs the tests; else the one on PATH.
    const npm = process.env['npm_execpath'];
    const [command, args] = npm ? [process.execPath, [npm, 'start']] : ['npm', ['start']];
    const child = spawn(command, args, {
      cwd: REPO,
      env: { ...process.env, PORT: '0', JOBQL_DATA_DIR: tempDir() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = once(child, 'exit');
    const url = await waitFor(() => /"url":"(http:\/\/[^"]+)\/graphql"/.exec(output)?.[1], { timeoutMs: 30_000, what: () => `a listening server in:\n${output}` });
    child.kill('SIGTERM');
    await exited;
    assert.match(output, /"signal":"SIGTERM".*shutting down/);
    assert.match(output, /jobql stopped/);
    await assert.rejects(fetch(`${url}/healthz`), 'nothing listens any more');
  });
});

describe('configuration', () => {
  test('a bad value stops the start with a clear message and exit code 78', async () => {
    const { code, output } = await runToExit({
      PORT: 'eighty',
      JOBQL_MAX_CONCURRENT_JOBS: '0',
      JOBQL_DUCKDB_MEMORY_LIMIT: 'lots',
      JOBQL_DATA_DIR: tempDir(),
    });
    assert.equal(code, 78);
    assert.match(output, /Invalid configuration/);
    assert.match(output, /PORT="eighty"/);
    assert.match(output, /JOBQL_MAX_CONCURRENT_JOBS="0"/);
    assert.match(output, /JOBQL_DUCKDB_MEMORY_LIMIT="lots": a size such as 512MB or 2GB/);
  });
});
