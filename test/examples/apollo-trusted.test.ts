/**
 * The Apollo Client example against a server that runs trusted documents only: its operations,
 * in the form Apollo sends them (with the cache's __typename fields), are the manifest; the
 * example's whole flow runs by hash, and a document outside the manifest is refused.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { gql, InMemoryCache } from '@apollo/client';
import { print } from '@apollo/client/utilities';
import { typePolicies } from '../../examples/apollo-client/cache.ts';
import { createJobqlClient } from '../../examples/apollo-client/client.ts';
import { run } from '../../examples/apollo-client/main.ts';
import * as operations from '../../examples/apollo-client/operations.ts';
import { startServer, tempDir } from '../helpers/server.ts';

test('the Apollo example runs by hash on a trusted-documents server; another document is refused', async () => {
  const cache = new InMemoryCache({ typePolicies });
  const manifest: Record<string, string> = {};
  for (const value of Object.values(operations)) {
    if (typeof value !== 'object' || value === null || !('kind' in value) || value.kind !== 'Document') continue;
    const text = print(cache.transformDocument(value));
    manifest[createHash('sha256').update(text).digest('hex')] = text;
  }
  assert.ok(Object.keys(manifest).length >= 4, 'the example has its operations');
  const file = path.join(tempDir(), 'persisted-documents.json');
  fs.writeFileSync(file, JSON.stringify(manifest));

  const server = await startServer({ JOBQL_TRUSTED_DOCUMENTS: file });
  const lines: string[] = [];
  try {
    const { jobId } = await run(server.url, (line: string) => lines.push(line));
    assert.match(jobId, /^job_/);
    assert.ok(lines.some((line) => / ABORTED$/.test(line)), lines.join('\n'));

    const jobql = createJobqlClient(server.url);
    try {
      await assert.rejects(jobql.client.query({ query: gql`query Other { jobs { nodes { id } } }` }), /trusted documents only/);
    } finally {
      await jobql.dispose();
    }
  } finally {
    await server.stop();
  }
});
