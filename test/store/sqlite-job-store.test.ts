/** The JobStore contract on the embedded store: a fresh SQLite file per test. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { JobStore } from '../../src/store/job-store.ts';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.ts';
import { jobStoreContract } from './job-store-contract.ts';

jobStoreContract('SqliteJobStore', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'jobql-store-'));
  const file = path.join(dir, 'jobs.sqlite');
  const stores: JobStore[] = [new SqliteJobStore(file)];
  return {
    store: stores[0] as JobStore,
    // A second handle on the same file, as a second process would open it.
    async openPeer(): Promise<JobStore> {
      const peer = new SqliteJobStore(file);
      stores.push(peer);
      return peer;
    },
    async close(): Promise<void> {
      for (const store of stores) await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
