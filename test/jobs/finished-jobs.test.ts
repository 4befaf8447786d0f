/** The finished jobs job(id) serves from memory: only jobs that will not change, and a bounded number. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobNotification } from '../../src/core/job.ts';
import { FinishedJobs } from '../../src/jobs/finished-jobs.ts';
import { jobWith } from './fakes.ts';

const notification = (fields: Partial<JobNotification>): JobNotification => ({
  url: 'https://hooks.example/end',
  attempts: 1,
  firstAttemptAt: new Date(),
  deliveredAt: null,
  lastError: null,
  gaveUp: false,
  ...fields,
});

test('keeps a job that ended with no webhook or a settled one; never one that may still change', () => {
  const finished = new FinishedJobs();
  const cases = [
    { id: 'running', job: jobWith({ id: 'running', status: 'RUNNING' }), kept: false },
    { id: 'aborting', job: jobWith({ id: 'aborting', status: 'ABORTING' }), kept: false },
    { id: 'ended', job: jobWith({ id: 'ended', status: 'SUCCESS' }), kept: true },
    { id: 'pending-hook', job: jobWith({ id: 'pending-hook', status: 'FAILED_WITH_ERROR', notification: notification({}) }), kept: false },
    { id: 'delivered', job: jobWith({ id: 'delivered', status: 'SUCCESS', notification: notification({ deliveredAt: new Date() }) }), kept: true },
    { id: 'gave-up', job: jobWith({ id: 'gave-up', status: 'ABORTED', notification: notification({ gaveUp: true }) }), kept: true },
  ];
  for (const { job } of cases) finished.offer(job);
  for (const { id, job, kept } of cases) assert.equal(finished.get(id), kept ? job : undefined, id);
});

test('holds at most 10,000 jobs, dropping the one read least recently', () => {
  const finished = new FinishedJobs();
  for (let i = 0; i < 10_000; i++) finished.offer(jobWith({ id: `job-${i}`, status: 'SUCCESS' }));
  assert.ok(finished.get('job-0'), 'read now: the most recent');
  finished.offer(jobWith({ id: 'job-new', status: 'SUCCESS' }));
  assert.ok(finished.get('job-0'));
  assert.equal(finished.get('job-1'), undefined, 'the least recently read went');
  assert.ok(finished.get('job-new'));
});
