/** The job service's lifecycle machine. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lifecycle, SERVICE_TRANSITIONS, type ServicePhase } from '../../src/jobs/lifecycle.ts';

test('only the running phase carries what admits jobs', () => {
  const life = new Lifecycle<string>();
  assert.equal(life.phase, 'not-started');
  assert.equal(life.running, null);
  life.enter('recovering');
  assert.equal(life.running, null, 'nothing is admitted while recovering');
  life.enter('running', 'admission');
  assert.equal(life.running, 'admission');
  life.enter('draining');
  assert.equal(life.running, null, 'nothing is admitted once a drain began');
  life.enter('stopped');
  assert.equal(life.phase, 'stopped');
});

test('moves only along the table; running cannot be entered without recovering', () => {
  const life = new Lifecycle<string>();
  assert.throws(() => life.enter('running', 'admission'), /cannot go from not-started to running/);
  for (const [from, targets] of Object.entries(SERVICE_TRANSITIONS) as [ServicePhase, readonly ServicePhase[]][]) {
    assert.ok(!targets.includes(from), `${from} does not loop`);
    assert.ok(!targets.includes('not-started'), 'nothing goes back to not-started');
  }
  assert.deepEqual(SERVICE_TRANSITIONS.stopped, []);
});
