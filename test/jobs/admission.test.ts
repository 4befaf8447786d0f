/** Admission: validation, idempotency and the stateful limits, with a fake clock and fake ports. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RequestError } from '../../src/core/errors.ts';
import type { Principal } from '../../src/core/principal.ts';
import { Admission, checkAttach, idempotentMatch, type JobLimits, validateSubmission } from '../../src/jobs/admission.ts';
import type { SubmissionLimiter } from '../../src/limits/submission-limiter.ts';
import type { JobStore } from '../../src/store/job-store.ts';
import { fakeClock, jobWith } from './fakes.ts';

const limits: JobLimits = {
  maxConcurrentJobs: 4,
  maxQueuedJobs: 10,
  maxSqlLength: 100,
  maxStatements: 3,
  maxBindings: 2,
  defaultTimeoutSeconds: 60,
  maxTimeoutSeconds: 3600,
  maxWaitMs: 1000,
  allowAttach: true,
  maxActiveJobsPerPrincipal: 5,
  maxRunningJobsPerPrincipal: 2,
  maxSubmissionsPerMinute: 3,
  idempotencyWindowSeconds: 60,
};
const alice: Principal = { id: 'alice', admin: false, expiresAt: null };
const admin: Principal = { id: 'root', admin: true, expiresAt: null };

/** Asserts that `run` throws a RequestError with this code (and argument, if given). */
function refuses(run: () => unknown, code: string, argument?: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof RequestError, String(error));
    assert.equal(error.code, code);
    if (argument) assert.equal(error.extensions['argument'], argument);
    return true;
  });
}

describe('validateSubmission', () => {
  test('fills in the defaults and splits the statements', () => {
    const valid = validateSubmission({ sql: 'select 1; select 2' }, limits);
    assert.deepEqual(valid, {
      sql: 'select 1; select 2',
      statements: ['select 1', 'select 2'],
      bindings: [],
      tag: null,
      timeoutSeconds: 60,
      waitMs: 0,
      idempotencyKey: null,
      cancelIfUnwatchedSeconds: null,
      notifyUrl: null,
    });
  });

  test('cancelIfUnwatchedSeconds: the server default unless the job says otherwise; 0 turns it off', () => {
    assert.equal(validateSubmission({ sql: 'select 1', cancelIfUnwatchedSeconds: 30 }, limits).cancelIfUnwatchedSeconds, 30);
    const withDefault = { ...limits, defaultCancelIfUnwatchedSeconds: 600 };
    assert.equal(validateSubmission({ sql: 'select 1' }, withDefault).cancelIfUnwatchedSeconds, 600);
    assert.equal(validateSubmission({ sql: 'select 1', cancelIfUnwatchedSeconds: 0 }, withDefault).cancelIfUnwatchedSeconds, null);
    assert.equal(validateSubmission({ sql: 'select 1', cancelIfUnwatchedSeconds: 5 }, withDefault).cancelIfUnwatchedSeconds, 5);
    for (const bad of [-1, 86_401, 1.5]) {
      refuses(() => validateSubmission({ sql: 'select 1', cancelIfUnwatchedSeconds: bad }, limits), 'BAD_USER_INPUT', 'input.cancelIfUnwatchedSeconds');
    }
  });

  test('refuses what breaks a limit with LIMIT_EXCEEDED and malformed input with BAD_USER_INPUT', () => {
    refuses(() => validateSubmission({ sql: 'x'.repeat(101) }, limits), 'LIMIT_EXCEEDED');
    refuses(() => validateSubmission({ sql: '  ;  ' }, limits), 'BAD_USER_INPUT', 'input.sql');
    refuses(() => validateSubmission({ sql: 'select 1; select 2; select 3; select 4' }, limits), 'LIMIT_EXCEEDED');
    refuses(() => validateSubmission({ sql: 'select ?', bindings: [{ a: 1 }] }, limits), 'BAD_USER_INPUT', 'input.bindings');
    refuses(() => validateSubmission({ sql: 'select ?', bindings: [1, 2, 3] }, limits), 'LIMIT_EXCEEDED');
    refuses(() => validateSubmission({ sql: 'select 1', tag: 't'.repeat(257) }, limits), 'BAD_USER_INPUT', 'input.tag');
    refuses(() => validateSubmission({ sql: 'select 1', timeoutSeconds: 0 }, limits), 'BAD_USER_INPUT', 'input.timeoutSeconds');
    refuses(() => validateSubmission({ sql: 'select 1', timeoutSeconds: 3601 }, limits), 'LIMIT_EXCEEDED');
    refuses(() => validateSubmission({ sql: 'select 1', waitMs: -1 }, limits), 'BAD_USER_INPUT', 'input.waitMs');
    refuses(() => validateSubmission({ sql: 'select 1', waitMs: 1001 }, limits), 'LIMIT_EXCEEDED', 'input.waitMs');
    refuses(() => validateSubmission({ sql: 'select 1', idempotencyKey: '' }, limits), 'BAD_USER_INPUT', 'input.idempotencyKey');
  });

  test('accepts the limits themselves', () => {
    const valid = validateSubmission({ sql: 'select ?, ?', bindings: [null, 'x'], timeoutSeconds: 3600, waitMs: 1000 }, limits);
    assert.equal(valid.timeoutSeconds, 3600);
    assert.equal(valid.waitMs, 1000);
  });
});

describe('idempotentMatch', () => {
  const clock = fakeClock();
  const submission = validateSubmission({ sql: 'select 1', idempotencyKey: 'k' }, limits);
  const earlier = jobWith({ queryText: 'select 1', submittedAt: clock.now(), idempotencyKey: 'k' });

  test('the same request within the window is the same job', () => {
    clock.advance(59_000);
    assert.equal(idempotentMatch(earlier, submission, 60, clock.now()), 'same');
  });

  test('past the window the key is forgotten', () => {
    clock.advance(2_000);
    assert.equal(idempotentMatch(earlier, submission, 60, clock.now()), 'expired');
  });

  test('a different request with the key is refused, not answered with the wrong job', () => {
    const other = validateSubmission({ sql: 'select 2', idempotencyKey: 'k' }, limits);
    refuses(() => idempotentMatch(earlier, other, 60, earlier.submittedAt), 'BAD_USER_INPUT', 'input.idempotencyKey');
  });
});

describe('checkAttach', () => {
  test('needs the setting, the admin scope and a query id', () => {
    refuses(() => checkAttach('01b2c3d4-0000-1111-2222-333344445555', admin, { ...limits, allowAttach: false }), 'FORBIDDEN');
    refuses(() => checkAttach('01b2c3d4-0000-1111-2222-333344445555', alice, limits), 'FORBIDDEN');
    refuses(() => checkAttach('not-a-query-id', admin, limits), 'BAD_USER_INPUT', 'queryId');
    assert.doesNotThrow(() => checkAttach('01B2C3D4-0000-1111-2222-333344445555', admin, limits));
  });
});

describe('Admission', () => {
  /** Only the store methods admission uses; the rest would fail the test if called. */
  function storeWith(counts: { active: number; waiting: number }, earlier: ReturnType<typeof jobWith> | null = null) {
    const forgotten: Date[] = [];
    const store = {
      countActive: async () => counts.active,
      countWaiting: async () => counts.waiting,
      findByIdempotencyKey: async () => earlier,
      forgetIdempotencyKeys: async (before: Date) => void forgotten.push(before),
    } as Partial<JobStore> as JobStore;
    return { store, forgotten };
  }
  const allow: SubmissionLimiter = { consume: async () => ({ allowed: true }) };

  test('over the submission rate: RATE_LIMITED with whole seconds to wait', async () => {
    const limiter: SubmissionLimiter = { consume: async () => ({ allowed: false, retryAfterMs: 1200 }) };
    const admission = new Admission({ store: storeWith({ active: 0, waiting: 0 }).store, limiter, limits });
    await assert.rejects(admission.admit(alice), (error: RequestError) => {
      assert.equal(error.code, 'RATE_LIMITED');
      assert.equal(error.extensions['retryAfterSeconds'], 2);
      return true;
    });
  });

  test("the principal's unfinished jobs and the global queue are capped", async () => {
    const full = new Admission({ store: storeWith({ active: 5, waiting: 0 }).store, limiter: allow, limits });
    await assert.rejects(full.admit(alice), /Too many unfinished jobs of yours/);
    const queue = new Admission({ store: storeWith({ active: 0, waiting: 10 }).store, limiter: allow, limits });
    await assert.rejects(queue.admit(alice), /Too many queued jobs/);
    const room = new Admission({ store: storeWith({ active: 4, waiting: 9 }).store, limiter: allow, limits });
    await room.admit(alice);
  });

  test('an expired key is forgotten in the store, and the submission goes on as new', async () => {
    const clock = fakeClock();
    const earlier = jobWith({ submittedAt: clock.now(), idempotencyKey: 'k' });
    const { store, forgotten } = storeWith({ active: 0, waiting: 0 }, earlier);
    const admission = new Admission({ store, limiter: allow, limits });
    const submission = validateSubmission({ sql: 'select 1', idempotencyKey: 'k' }, limits);
    assert.equal(await admission.earlierWithKey(alice, submission, clock.now()), earlier);
    clock.advance(61_000);
    assert.equal(await admission.earlierWithKey(alice, submission, clock.now()), null);
    assert.deepEqual(forgotten, [new Date(clock.now().getTime() - 60_000)]);
  });
});
