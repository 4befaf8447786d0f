import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config.ts';
import type { Dependencies, Dependency } from '../core/dependencies.ts';
import { eventOf } from '../core/job.ts';
import { isUnreachable } from '../core/unreachable.ts';
import type { Logger } from '../core/logger.ts';
import type { EventBus } from '../events/event-bus.ts';
import { InProcessEventBus } from '../events/in-process-event-bus.ts';
import { RedisEventBus } from '../events/redis-event-bus.ts';
import { Outages } from './outages.ts';
import type { Instance } from '../jobs/leases.ts';
import { memorySubmissionLimiter, redisSubmissionLimiter } from '../limits/rate-limiter-flexible.ts';
import type { SubmissionLimiter } from '../limits/submission-limiter.ts';
import type { JobStore } from '../store/job-store.ts';
import { PostgresJobStore } from '../store/postgres-job-store.ts';
import { SqliteJobStore } from '../store/sqlite-job-store.ts';

/**
 * A dependency the instance needs to start (PostgreSQL, Redis) did not answer: the start ends
 * with one line and exit code 69 (EX_UNAVAILABLE), for the orchestrator to try again later.
 */
export class DependencyUnavailable extends Error {}

/** What the instances of one deployment share: where jobs live, how events travel, shared limits. */
export interface SharedState {
  store: JobStore;
  bus: EventBus;
  /** Submissions per principal per minute: in process, or counted across instances in Redis. */
  submissionLimiter: SubmissionLimiter;
  instance: Instance;
  /** The shared dependencies this instance cannot reach now, and how it copes. */
  dependencies: Dependencies;
  close(): Promise<void>;
}

const NONE: Dependencies = { shared: false, missing: async () => [], limitFallbacks: 0, catchUps: 0, unpublishedEvents: 0, outages: () => 0 };

/** How long /readyz waits for PostgreSQL's answer. */
const PING_TIMEOUT_MS = 1000;

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
      dependencies: NONE,
      close: async () => {
        if (!given.store) await store.close();
      },
    };
  }
  const { databaseUrl, databasePoolSize, redisUrl, redisPrefix } = config.cluster;
  const log = logger.child({ component: 'cluster' });
  const outages = new Outages(log);
  const instanceId = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const store =
    given.store ??
    (await PostgresJobStore.open(databaseUrl, {
      poolSize: databasePoolSize,
      applicationName: `jobql ${instanceId}`,
      onError: (error) => (isUnreachable(error) ? outages.down('postgresql', error.message) : log.warn({ err: error }, 'PostgreSQL connection error')),
      onReachability: (answered, error) =>
        answered ? outages.up('postgresql') : outages.down('postgresql', error instanceof Error ? error.message : 'unreachable'),
    }).catch((error: unknown) => {
      if (!isUnreachable(error)) throw error;
      throw new DependencyUnavailable(`PostgreSQL at JOBQL_DATABASE_URL did not answer (${(error as Error).message || 'unreachable'})`, {
        cause: error,
      });
    }));
  const closeStore = async (): Promise<void> => {
    if (!given.store) await store.close();
  };
  let joined = false;
  let closing = false;
  let clients: Redis[] = [];
  const redis = (role: string, options: RedisOptions = {}): Redis => {
    const client = new Redis(redisUrl, { connectionName: `jobql-${role}`, maxRetriesPerRequest: 3, ...options });
    // Before the start has succeeded, a failure is the start's to report (one line, exit 69).
    client.on('error', (error: unknown) => {
      if (!joined) return;
      if (isUnreachable(error)) outages.down('redis', (error as Error).message);
      else log.warn({ err: error, role }, 'Redis connection error');
    });
    client.on('close', () => {
      if (joined && !closing) outages.down('redis', `the ${role} connection closed`);
    });
    client.on('ready', () => {
      if (clients.every((c) => c.status === 'ready')) outages.up('redis');
    });
    return client;
  };
  const publisher = redis('publish');
  // SUBSCRIBE and UNSUBSCRIBE wait for Redis however long it is away (never fail: the event target
  // does not catch them, and a channel whose SUBSCRIBE failed would not be resubscribed).
  const subscriber = redis('subscribe', { maxRetriesPerRequest: null });
  // The limit's commands fail at once while Redis is away (no offline queue), so that a submission
  // is counted in memory instead of waiting for Redis.
  const limits = redis('limits', { enableOfflineQueue: false, lazyConnect: true });
  clients = [publisher, subscriber, limits];
  try {
    await Promise.all([publisher.ping(), subscriber.ping(), limits.connect()]);
  } catch (error) {
    for (const client of clients) client.disconnect();
    await closeStore();
    throw new DependencyUnavailable(`Redis at JOBQL_REDIS_URL did not answer (${(error as Error).message})`, { cause: error });
  }
  log.info({ instance: instanceId }, 'joined the cluster (PostgreSQL job store, Redis events)');
  joined = true;
  let limitFallbacks = 0;
  let catchUps = 0;
  let unpublishedEvents = 0;
  let limitedLocally = false;
  const onLimitFallback = (): void => {
    limitFallbacks += 1;
    if (limitedLocally) return;
    limitedLocally = true;
    log.warn(
      { perInstance: config.limits.maxSubmissionsPerMinute },
      'Redis does not answer: submissions per minute are counted per instance until it returns',
    );
  };
  limits.on('ready', () => {
    if (!limitedLocally) return;
    limitedLocally = false;
    log.info('Redis answers again: submissions per minute are counted across instances');
  });
  const postgres = store instanceof PostgresJobStore ? store : null;
  return {
    store,
    bus:
      given.bus ??
      new RedisEventBus({
        publisher,
        subscriber,
        channelPrefix: redisPrefix,
        latest: async (jobId) => {
          const job = await store.get(jobId);
          return job ? eventOf(job) : null;
        },
        onCaughtUp: (streams) => {
          catchUps += streams;
          log.info({ subscriptions: streams }, 'Redis reconnected: subscriptions caught up from the job store');
        },
        onUnpublished: () => (unpublishedEvents += 1),
      }),
    submissionLimiter: redisSubmissionLimiter(limits, `${redisPrefix}submissions`, config.limits.maxSubmissionsPerMinute, onLimitFallback),
    instance: { id: instanceId, leaseTtlMs: config.leaseTtlMs, shared: true },
    dependencies: {
      shared: true,
      async missing() {
        const missing: Dependency[] = [];
        if (postgres && !(await postgres.ping(PING_TIMEOUT_MS))) missing.push('postgresql');
        if (clients.some((client) => client.status !== 'ready')) missing.push('redis');
        return missing;
      },
      get limitFallbacks() {
        return limitFallbacks;
      },
      get catchUps() {
        return catchUps;
      },
      get unpublishedEvents() {
        return unpublishedEvents;
      },
      outages: (dependency) => outages.count(dependency),
    },
    async close() {
      closing = true;
      await Promise.allSettled(clients.map((client) => client.quit()));
      await closeStore();
    },
  };
}
