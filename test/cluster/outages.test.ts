import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Outages } from '../../src/cluster/outages.ts';
import type { Logger } from '../../src/core/logger.ts';

function recordingLogger(lines: { level: string; fields: object; message: string | undefined }[]): Logger {
  const at =
    (level: string) =>
    (fields: object | string, message?: string): void =>
      void lines.push(typeof fields === 'string' ? { level, fields: {}, message: fields } : { level, fields, message });
  const logger: Logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), child: () => logger };
  return logger;
}

test('an outage is counted once and logged at its start and its end, with its length', () => {
  const lines: { level: string; fields: object; message: string | undefined }[] = [];
  let now = 1000;
  const outages = new Outages(recordingLogger(lines), () => now);
  outages.up('postgresql'); // answering while none is on: nothing to say
  for (let i = 0; i < 5; i++) outages.down('postgresql', 'ECONNREFUSED'); // every failed tick
  now += 2500;
  outages.up('postgresql');
  outages.up('postgresql');
  outages.down('redis', 'the publish connection closed');
  assert.equal(outages.count('postgresql'), 1);
  assert.equal(outages.count('redis'), 1);
  assert.deepEqual(lines, [
    { level: 'warn', fields: { dependency: 'postgresql', reason: 'ECONNREFUSED' }, message: 'PostgreSQL does not answer' },
    { level: 'info', fields: { dependency: 'postgresql', outageMs: 2500 }, message: 'PostgreSQL answers again' },
    { level: 'warn', fields: { dependency: 'redis', reason: 'the publish connection closed' }, message: 'Redis does not answer' },
  ]);
  outages.down('postgresql', 'ETIMEDOUT');
  assert.equal(outages.count('postgresql'), 2, 'a new outage after the end of the last');
});
