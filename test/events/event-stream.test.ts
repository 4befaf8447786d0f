/** The per-subscription buffer is capped: a reader that stopped reading is ended, not fed forever. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventOf, type Job } from '../../src/core/job.ts';
import { eventStream } from '../../src/events/event-stream.ts';
import { jobWith } from '../jobs/fakes.ts';

test('past the cap, the buffered events are dropped, the listener removed, and the next read is LIMIT_EXCEEDED', async () => {
  let closed = 0;
  const { stream, push } = eventStream(() => (closed += 1), 3);
  const event = (sequence: number) => eventOf({ ...jobWith({}), sequence } as Job);
  for (let sequence = 1; sequence <= 3; sequence++) push(event(sequence));
  assert.equal(closed, 0, 'at the cap it still waits');
  push(event(4));
  assert.equal(closed, 1, 'one more ends it: the bus listener is removed');
  await assert.rejects(stream.next(), (error: unknown) => (error as { code?: string }).code === 'LIMIT_EXCEEDED');
  push(event(5));
  assert.equal(closed, 1);
});

test('a reader that keeps up is never near the cap', async () => {
  const { stream, push } = eventStream(() => {}, 3);
  for (let sequence = 1; sequence <= 10; sequence++) {
    const next = stream.next();
    push(eventOf({ ...jobWith({}), sequence } as Job));
    assert.equal((await next).value?.sequence, sequence);
  }
});
