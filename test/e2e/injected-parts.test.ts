/**
 * buildApp(config, logger, deps) uses the store, bus and clock it is given, opens none of its own
 * in their place, and leaves the given ones open when it stops (they are the caller's).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import type { Clock } from '../../src/core/clock.ts';
import { InProcessEventBus } from '../../src/events/in-process-event-bus.ts';
import { createLogger } from '../../src/logger.ts';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.ts';
import { gqlData, submit, waitForEnd } from '../helpers/client.ts';
import { tempDir } from '../helpers/server.ts';

test('a given store, bus and clock are the ones the app uses', async () => {
  const dataDir = tempDir();
  const storeDir = tempDir();
  const store = new SqliteJobStore(path.join(storeDir, 'given.sqlite'));
  const bus = new InProcessEventBus();
  const published: string[] = [];
  const publish = bus.publish.bind(bus);
  bus.publish = (event) => {
    published.push(`${event.job.id}:${event.status}`);
    publish(event);
  };
  const fixed = new Date('2031-05-06T07:08:09.000Z');
  const clock: Clock = { now: () => fixed };
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', JOBQL_DATA_DIR: dataDir, LOG_LEVEL: 'silent', JOBQL_SHUTDOWN_GRACE_MS: '0' });
  const app = await buildApp(config, createLogger('silent'), { store, bus, clock });
  await app.start();
  try {
    const url = `${app.url}/graphql`;
    const job = await submit(url, 'select 42 as answer');
    await waitForEnd(url, job.id);
    const stored = await store.get(job.id);
    assert.equal(stored?.status, 'SUCCESS', 'the job lives in the given store');
    assert.equal(stored?.submittedAt.toISOString(), fixed.toISOString(), 'times come from the given clock');
    assert.deepEqual(published.filter((p) => p.startsWith(job.id)).at(-1), `${job.id}:SUCCESS`, 'events went through the given bus');
    const read = await gqlData(url, 'query($id: ID!) { job(id: $id) { submittedAt } }', { id: job.id });
    assert.equal(read.job.submittedAt, fixed.toISOString());
    assert.ok(!fs.existsSync(path.join(dataDir, 'jobs.sqlite')), 'no job store of its own was opened');
  } finally {
    await app.stop();
  }
  assert.equal((await store.get((await store.list({}, 1, null)).jobs[0]!.id))?.status, 'SUCCESS', 'the given store is still open');
  await store.close();
});
