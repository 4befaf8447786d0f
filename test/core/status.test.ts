/** The state machine table and Snowpark's isDone / isFailed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canTransition, isDone, isFailed, isTerminal, JOB_STATUSES, TERMINAL_STATUSES, TRANSITIONS } from '../../src/core/status.ts';

test('every status has a row in the transition table', () => {
  assert.deepEqual(Object.keys(TRANSITIONS).sort(), [...JOB_STATUSES].sort());
});

test('terminal states never change; the others can always end', () => {
  for (const status of JOB_STATUSES) {
    if (TERMINAL_STATUSES.has(status)) {
      assert.deepEqual(TRANSITIONS[status], [], status);
      for (const to of JOB_STATUSES) assert.equal(canTransition(status, to), false, `${status} -> ${to}`);
    } else {
      for (const end of TERMINAL_STATUSES) {
        if (end !== status) assert.equal(canTransition(status, end), true, `${status} -> ${end}`);
      }
    }
  }
});

test('ABORTING only ends; nothing moves to the same status', () => {
  assert.equal(canTransition('ABORTING', 'RUNNING'), false);
  assert.equal(canTransition('ABORTING', 'QUEUED'), false);
  assert.equal(canTransition('ABORTING', 'ABORTED'), true);
  assert.equal(canTransition('ABORTING', 'SUCCESS'), true, 'a cancel can lose the race with the end');
  for (const status of JOB_STATUSES) assert.equal(canTransition(status, status), false);
});

test("isDone and isFailed follow the Snowflake connector behind Snowpark's AsyncJob", () => {
  const running = ['RUNNING', 'QUEUED', 'RESUMING_WAREHOUSE', 'QUEUED_REPARING_WAREHOUSE', 'BLOCKED', 'NO_DATA'];
  const failed = ['ABORTING', 'FAILED_WITH_ERROR', 'ABORTED', 'FAILED_WITH_INCIDENT', 'DISCONNECTED'];
  for (const status of JOB_STATUSES) {
    assert.equal(isDone(status), !running.includes(status), `isDone(${status})`);
    assert.equal(isFailed(status), failed.includes(status), `isFailed(${status})`);
  }
  assert.equal(isDone('ABORTING') && !isTerminal('ABORTING'), true, 'ABORTING is done but not terminal');
});
