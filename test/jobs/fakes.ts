import type { Clock } from '../../src/core/clock.ts';
import type { Job } from '../../src/core/job.ts';
import type { Logger } from '../../src/core/logger.ts';

/** A clock that stands still until moved. */
export function fakeClock(start = new Date('2026-01-01T00:00:00Z')): Clock & { advance(ms: number): void } {
  let now = start.getTime();
  return {
    now: () => new Date(now),
    advance: (ms) => {
      now += ms;
    },
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  error: () => {},
  warn: () => {},
  info: () => {},
  debug: () => {},
  child: () => silentLogger,
};

/** A stored job with plausible defaults; `fields` override them. */
export function jobWith(fields: Partial<Job> = {}): Job {
  const at = new Date('2026-01-01T00:00:00Z');
  return {
    id: 'job_00000000000000000000000000000001',
    seq: 1,
    queryId: null,
    queryText: 'select 1',
    bindings: [],
    tag: null,
    timeoutSeconds: 60,
    statementCount: 1,
    status: 'QUEUED',
    previousStatus: null,
    sequence: 1,
    statusChangedAt: at,
    submittedAt: at,
    dispatchedAt: null,
    startedAt: null,
    endedAt: null,
    error: null,
    progress: null,
    dml: null,
    resultExpiresAt: null,
    owner: 'alice',
    idempotencyKey: null,
    cancelIfUnwatchedSeconds: null,
    notification: null,
    runAs: null,
    ...fields,
  };
}
