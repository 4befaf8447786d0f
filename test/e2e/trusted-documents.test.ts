/**
 * Trusted documents (JOBQL_TRUSTED_DOCUMENTS): only the manifests' documents run, named by hash,
 * over HTTP, SSE and WebSocket alike; any other document is PERSISTED_QUERY_NOT_FOUND, and text
 * sent beside a hash is never what runs.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import type { GraphQLResponse } from '../helpers/client.ts';
import { wsClient } from '../helpers/client.ts';
import { startServer, tempDir, type TestServer } from '../helpers/server.ts';

const SUBMIT = 'mutation Submit($sql: String!) { submitQuery(input: { sql: $sql }) { job { id status } } }';
const FOLLOW = 'subscription Follow($id: ID!) { jobStatus(id: $id) { sequence status } }';
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

let server: TestServer;
let manifest: string;
before(async () => {
  manifest = path.join(tempDir(), 'persisted-documents.json');
  // One key in each form a manifest may use: bare hex, and the client preset's `sha256:<hex>`.
  fs.writeFileSync(manifest, JSON.stringify({ [sha256(SUBMIT)]: SUBMIT, [`sha256:${sha256(FOLLOW)}`]: FOLLOW }));
  server = await startServer({ JOBQL_TRUSTED_DOCUMENTS: manifest });
});
after(() => server?.stop());

async function post(body: Record<string, unknown>): Promise<{ status: number; body: GraphQLResponse }> {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as GraphQLResponse };
}

const persisted = (text: string): Record<string, unknown> => ({ persistedQuery: { version: 1, sha256Hash: sha256(text) } });

describe('over HTTP', () => {
  test('a trusted document runs by its hash (automatic persisted queries form), with no text', async () => {
    const { status, body } = await post({ extensions: persisted(SUBMIT), variables: { sql: 'select 1' } });
    assert.equal(status, 200);
    assert.match((body.data as any).submitQuery.job.id, /^job_/);
  });

  test('and by documentId (sha256:<hex>)', async () => {
    const { body } = await post({ documentId: `sha256:${sha256(SUBMIT)}`, variables: { sql: 'select 2' } });
    assert.match((body.data as any).submitQuery.job.id, /^job_/);
  });

  test('any other document is refused with PERSISTED_QUERY_NOT_FOUND, even one of the manifest sent as text', async () => {
    for (const request of [{ query: '{ jobs { nodes { id queryText } } }' }, { query: SUBMIT, variables: { sql: 'select 3' } }]) {
      const { status, body } = await post(request);
      assert.equal(status, 400);
      assert.equal(body.errors?.[0]?.extensions?.code, 'PERSISTED_QUERY_NOT_FOUND');
      assert.equal(body.data, undefined);
    }
    const unknown = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ __typename }') } } });
    assert.equal(unknown.body.errors?.[0]?.extensions?.code, 'PERSISTED_QUERY_NOT_FOUND');
  });

  test('text sent beside a hash is ignored: the manifest’s document runs', async () => {
    const { body } = await post({ query: '{ jobs { nodes { queryText } } }', extensions: persisted(SUBMIT), variables: { sql: 'select 4' } });
    assert.deepEqual(Object.keys(body.data ?? {}), ['submitQuery']);
  });

  test('over SSE too', async () => {
    const params = new URLSearchParams({ query: FOLLOW.replace('Follow', 'Other'), variables: JSON.stringify({ id: 'x' }) });
    const response = await fetch(`${server.url}?${params}`, { headers: { accept: 'text/event-stream' } });
    assert.match(await response.text(), /PERSISTED_QUERY_NOT_FOUND/);
  });
});

describe('over WebSocket', () => {
  test('a trusted subscription runs by hash; another document is refused and the socket stays usable', async () => {
    const { body } = await post({ extensions: persisted(SUBMIT), variables: { sql: 'select 42' } });
    const id = (body.data as any).submitQuery.job.id as string;
    const client = wsClient(server.wsUrl);
    try {
      const refused = await new Promise<unknown>((resolve) => {
        client.subscribe({ query: '{ jobs { nodes { id } } }' }, { next: resolve, error: resolve, complete: () => resolve(null) });
      });
      assert.match(JSON.stringify(refused), /PERSISTED_QUERY_NOT_FOUND/);
      const statuses: string[] = [];
      await new Promise<void>((resolve, reject) => {
        client.subscribe(
          { query: '', variables: { id }, extensions: persisted(FOLLOW) },
          { next: (event) => statuses.push((event.data as any).jobStatus.status), error: reject, complete: resolve },
        );
      });
      assert.equal(statuses.at(-1), 'SUCCESS');
    } finally {
      await client.dispose();
    }
  });
});

test('GraphiQL is off by default with trusted documents (its documents would be refused); a bad manifest stops the start', () => {
  const dataDir = tempDir();
  assert.equal(loadConfig({ JOBQL_DATA_DIR: dataDir, JOBQL_TRUSTED_DOCUMENTS: manifest }).graphiql, false);
  assert.equal(loadConfig({ JOBQL_DATA_DIR: dataDir }).graphiql, true);
  assert.throws(() => loadConfig({ JOBQL_DATA_DIR: dataDir, JOBQL_TRUSTED_DOCUMENTS: path.join(dataDir, 'nope.json') }), /no file/);
});

test('without trusted documents, a hash-only request is PERSISTED_QUERY_NOT_FOUND, so APQ clients send the text', async () => {
  const plain = await startServer();
  try {
    const response = await fetch(plain.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ extensions: persisted(SUBMIT), variables: { sql: 'select 1' } }),
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as GraphQLResponse).errors?.[0]?.extensions?.code, 'PERSISTED_QUERY_NOT_FOUND');
    const withText = await fetch(plain.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: SUBMIT, extensions: persisted(SUBMIT), variables: { sql: 'select 1' } }),
    });
    assert.match(JSON.stringify(await withText.json()), /"submitQuery"/);
  } finally {
    await plain.stop();
  }
});
