/**
 * Logs: JSON lines when stdout is not a terminal (the default for pipes, containers and log
 * shippers); readable lines with JOBQL_LOG_FORMAT=pretty (what a terminal gets by default), and
 * the last line before a graceful exit is written in both.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { resolveLogFormat } from '../../src/logger.ts';
import { tempDir } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait-for.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

async function runUntilStopped(env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', JOBQL_DATA_DIR: tempDir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit');
  await waitFor(() => output.includes('jobql listening'), { timeoutMs: 20_000, what: () => `the listening line in:\n${output}` });
  child.kill('SIGTERM');
  await exited;
  return output;
}

test('a pipe gets JSON lines, one object each, up to the last', async () => {
  const lines = (await runUntilStopped({})).trim().split('\n');
  for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line);
  assert.equal(JSON.parse(lines.at(-1)!).msg, 'jobql stopped');
});

test('JOBQL_LOG_FORMAT=pretty gets readable lines, up to the last', async () => {
  const output = await runUntilStopped({ JOBQL_LOG_FORMAT: 'pretty' });
  assert.match(output, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: jobql listening$/m);
  assert.match(output, /INFO: jobql stopped\s*$/);
  assert.doesNotMatch(output, /^\{"level"/m, 'no JSON line');
});

test('auto: pretty for a terminal, JSON otherwise; an explicit format wins', () => {
  assert.equal(resolveLogFormat('auto', true), 'pretty');
  assert.equal(resolveLogFormat('auto', false), 'json');
  assert.equal(resolveLogFormat('json', true), 'json');
  assert.equal(resolveLogFormat('pretty', false), 'pretty');
});
