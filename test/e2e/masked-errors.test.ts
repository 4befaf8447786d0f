/** An unexpected failure reaches the client as INTERNAL_SERVER_ERROR, with no internal detail. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { collect, gql, submit, waitForEnd, wsClient } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(() => server.stop());

test('a corrupt stored result: the client sees "Unexpected error." and no path, over HTTP and WebSocket', async () => {
  const job = await waitForEnd(server.url, (await submit(server.url, 'select 42 as canary_column')).id);
  const results = path.join(server.dataDir, 'results');
  for (const name of fs.readdirSync(results)) {
    if (name.endsWith('.parquet')) fs.writeFileSync(path.join(results, name), 'not parquet: canary-secret-7f3a');
  }
  const query = `{ job(id: "${job.id}") { result { rows } } }`;
  const http = await gql(server.url, query);
  const client = wsClient(server.wsUrl);
  const ws = await collect(client, query);
  await client.dispose();
  const wsErrors = ws.errors ?? (ws.events[0] as { errors?: unknown } | undefined)?.errors;
  for (const body of [JSON.stringify(http), JSON.stringify(wsErrors ?? ws.events)]) {
    assert.match(body, /INTERNAL_SERVER_ERROR/);
    assert.match(body, /Unexpected error\./);
    assert.doesNotMatch(body, new RegExp(`${server.dataDir}|canary-secret|parquet|Error:`, 'i'));
  }
});
