import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import type { Logger } from '../core/logger.ts';
import type { EventBus } from '../events/event-bus.ts';
import { InProcessEventBus } from '../events/in-process-event-bus.ts';
import { RedisEventBus } from '../events/redis-event-bus.ts';
import type { Instance } from '../jobs/leases.ts';
import { memorySubmissionLimiter, redisSubmissionLimiter } from '../limits/rate-limiter-flexible.ts';
import type { SubmissionLimiter } from '../limits/submission-limiter.ts';
import type { JobStore } from '../store/job-store.ts';
import { PostgresJobStore } from '../store/postgres-job-store.ts';
import { SqliteJobStore } from '../store/sqlite-job-store.ts';

/** What the instances of one deployment share: where jobs live, how events travel, shared limits. */
export interface SharedState {
  store: JobStore;
  bus: EventBus;
  /** Submissions per principal per minute: in process, or counted across instances in Redis. */
  submissionLimiter: SubmissionLimiter;
  instance: Instance;
  close(): Promise<void>;
}

/** Parts the caller already has (tests, benchmarks): used as they are, and left to the caller to close. */
export interface GivenParts {
  store?: JobStore;
  bus?: EventBus;
}

/**
 * One process: the SQLite file and an in-process bus; it is the only lease holder, under a fixed
 * name, so a restart picks its own jobs up at once. Several instances (Snowflake only, see
 * config.ts): PostgreSQL, Redis pub/sub and Redis-backed limits, and a name unique to this process,
 * so the leases of a process that died run out and pass to the others.
 */
export async function openSharedState(config: Config, logger: Logger, given: GivenParts = {}): Promise<SharedState> {
  if (!config.cluster) {
    const store = given.store ?? new SqliteJobStore(path.join(config.dataDir, 'jobs.sqlite'));
    return {
      store,
      bus: given.bus ?? new InProcessEventBus(),
      submissionLimiter: memorySubmissionLimiter(config.limits.maxSubmissionsPerMinute),
      instance: { id: 'local', leaseTtlMs: config.leaseTtlMs, shared: false },
      close: async () => {
        if (!given.store) await store.close();
      },
    };
  }
  const { databaseUrl, databasePoolSize, redisUrl, redisPrefix } = config.cluster;
  const log = logger.child({ component: 'cluster' });
  const instanceId = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const store =
    given.store ??
    (await PostgresJobStore.open(databaseUrl, {
      poolSize: databasePoolSize,
      applicationName: `jobql ${instanceId}`,
      onError: (error) => log.warn({ err: error }, 'PostgreSQL connection error'),
    }));
  const closeStore = async (): Promise<void> => {
    if (!given.store) await store.close();
  };
  const redis = (role: string): Redis => {
    const client = new Redis(redisUrl, { connectionName: `jobql-${role}`, maxRetriesPerRequest: 3 });
    client.on('error', (error: unknown) => log.warn({ err: error, role }, 'Redis connection error'));
    return client;
  };
  const publisher = redis('publish');
  const subscriber = redis('subscribe');
  try {
    await Promise.all([publisher.ping(), subscriber.ping()]);
  } catch (error) {
    publisher.disconnect();
    subscriber.disconnect();
    await closeStore();
    throw new Error(`Redis at JOBQL_REDIS_URL did not answer: ${(error as Error).message}`, { cause: error });
  }
  log.info({ instance: instanceId }, 'joined the cluster (PostgreSQL job store, Redis events)');
  return {
    store,
    bus: given.bus ?? new RedisEventBus({ publisher, subscriber, channelPrefix: redisPrefix }),
    submissionLimiter: redisSubmissionLimiter(publisher, `${redisPrefix}submissions`, config.limits.maxSubmissionsPerMinute),
    instance: { id: instanceId, leaseTtlMs: config.leaseTtlMs, shared: true },
    async close() {
      await Promise.allSettled([publisher.quit(), subscriber.quit()]);
      await closeStore();
    },
  };
}
