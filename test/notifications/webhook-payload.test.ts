import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jobEndedPayload } from '../../src/notifications/webhook-payload.ts';
import { jobWith } from '../jobs/fakes.ts';

test('the job.ended payload says how the job ended, and carries no SQL, bindings or owner', () => {
  const job = jobWith({
    id: 'job_0123456789abcdef0123456789abcdef',
    status: 'FAILED_WITH_ERROR',
    tag: 'nightly',
    queryText: 'select secret_column from payroll',
    bindings: ['s3cr3t'],
    startedAt: new Date('2026-01-01T00:00:01Z'),
    endedAt: new Date('2026-01-01T00:00:02Z'),
    error: { code: 'SQL_SYNTAX_ERROR', sqlState: '42601', message: 'syntax error at or near "selec"' },
  });
  const payload = jobEndedPayload(job);
  assert.deepEqual(payload, {
    event: 'job.ended',
    job: {
      id: 'job_0123456789abcdef0123456789abcdef',
      status: 'FAILED_WITH_ERROR',
      tag: 'nightly',
      queryId: null,
      submittedAt: '2026-01-01T00:00:00.000Z',
      startedAt: '2026-01-01T00:00:01.000Z',
      endedAt: '2026-01-01T00:00:02.000Z',
      error: { code: 'SQL_SYNTAX_ERROR', sqlState: '42601', message: 'syntax error at or near "selec"' },
      dml: null,
      resultExpiresAt: null,
    },
  });
  const text = JSON.stringify(payload);
  assert.doesNotMatch(text, /payroll|s3cr3t|alice/);
});
