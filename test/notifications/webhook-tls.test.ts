import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { postWebhook } from '../../src/notifications/webhook-request.ts';

/** A throwaway self-signed certificate for hooks.example.test, made with the openssl binary. */
function selfSigned(): { key: Buffer; cert: Buffer } | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobql-webhook-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const made = spawnSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'],
      ...['-keyout', key, '-out', cert, '-subj', '/CN=hooks.example.test', '-addext', 'subjectAltName=DNS:hooks.example.test'],
    ],
    { stdio: 'ignore' },
  );
  try {
    return made.status === 0 ? { key: fs.readFileSync(key), cert: fs.readFileSync(cert) } : null;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const pair = selfSigned();

const name = 'https: SNI is the URL’s host while the socket goes to the pinned address, and certificates are verified';
test(name, { skip: pair ? false : 'no openssl binary' }, async () => {
  const names: string[] = [];
  let requests = 0;
  const server = https.createServer(
    {
      ...pair!,
      SNICallback: (servername, done) => {
        names.push(servername);
        done(null, undefined);
      },
    },
    (_req, res) => {
      requests += 1;
      res.writeHead(200).end();
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const response = await postWebhook({
      url: new URL(`https://hooks.example.test:${port}/hook`),
      address: '127.0.0.1',
      family: 4,
      headers: {},
      body: '{}',
      signal: AbortSignal.timeout(5000),
    });
    assert.deepEqual(names, ['hooks.example.test']);
    // A certificate nobody vouches for is refused: no request is made over that connection.
    assert.equal(response.delivered, false);
    assert.match(response.delivered ? '' : response.error, /self[- ]signed certificate/i);
    assert.equal(requests, 0);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
