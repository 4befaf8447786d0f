/**
 * The examples resume a dropped subscription after the last sequence they saw. Each runs through
 * a loopback TCP proxy that cuts its subscription's connection (the WebSocket, or the SSE stream)
 * just as the example is about to cancel its long job: the job goes ABORTING and ABORTED while
 * the client is away, graphql-ws's (or graphql-sse's) retry subscribes again with afterSequence,
 * and the example must still print every state once, gap-free: QUEUED 1 … ABORTED 4.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { run as runApollo } from '../../examples/apollo-client/main.ts';
import { run as runSse } from '../../examples/sse/main.ts';
import { run as runUrql } from '../../examples/urql/main.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

type Kind = 'websocket' | 'event-stream' | 'http';

interface Proxy {
  /** http://127.0.0.1:port/graphql, through the proxy. */
  url: string;
  /** Cuts (destroys both sides of) the connections that carry `kind`; the latest one only with `latestOnly`. Returns how many. */
  cut(kind: Kind, latestOnly?: boolean): number;
  close(): Promise<void>;
}

/** A loopback TCP proxy to `target` that knows which of its connections carry a WebSocket or an event stream. */
async function cuttingProxy(target: URL): Promise<Proxy> {
  const connections: { client: net.Socket; upstream: net.Socket; kind: Kind }[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    const entry = { client, upstream, kind: 'http' as Kind };
    client.on('data', (chunk: Buffer) => {
      const head = chunk.subarray(0, 4096).toString('latin1');
      if (/^upgrade: websocket/im.test(head)) entry.kind = 'websocket';
      else if (/^accept: text\/event-stream/im.test(head)) entry.kind = 'event-stream';
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      const at = connections.indexOf(entry);
      if (at >= 0) connections.splice(at, 1);
    };
    for (const socket of [client, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
    }
    connections.push(entry);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${target.pathname}`,
    cut(kind, latestOnly = false) {
      const matching = connections.filter((c) => c.kind === kind);
      const chosen = latestOnly ? matching.slice(-1) : matching;
      for (const c of chosen) {
        c.client.destroy();
        c.upstream.destroy();
      }
      return chosen.length;
    },
    async close() {
      for (const c of connections) {
        c.client.destroy();
        c.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The `sequence status` lines of the long job (after the last `submitted`). */
function longJobEvents(lines: readonly string[]): string[] {
  const start = lines.findLastIndex((line) => line.startsWith('submitted '));
  return lines.slice(start).filter((line) => /^\d+ [A-Z_]+$/.test(line));
}

describe('the examples resume a subscription cut while their job moves on', () => {
  let server: TestServer;
  let proxy: Proxy;
  before(async () => {
    server = await startServer();
    proxy = await cuttingProxy(new URL(server.url));
  });
  after(async () => {
    await proxy.close();
    await server.stop();
  });

  const cases: [name: string, kind: Kind, run: (url: string, log: (line: string) => void) => Promise<unknown>][] = [
    ['Apollo Client (GraphQLWsLink, graphql-ws retry)', 'websocket', (url, log) => runApollo(url, log)],
    ['urql (subscriptionExchange, graphql-ws retry)', 'websocket', (url, log) => runUrql(url, log)],
    ['Server-Sent Events (graphql-sse retry)', 'event-stream', (url, log) => runSse(url, log)],
  ];
  for (const [name, kind, run] of cases) {
    test(name, async () => {
      const lines: string[] = [];
      let cuts = 0;
      await run(proxy.url, (line) => {
        lines.push(line);
        // The long job is RUNNING and about to be cancelled: cut the subscription's connection now.
        if (line.startsWith('cancelling ')) cuts += proxy.cut(kind, kind === 'event-stream');
      });
      assert.equal(cuts, 1, `one ${kind} connection was cut:\n${lines.join('\n')}`);
      assert.deepEqual(
        longJobEvents(lines.filter((line) => !line.startsWith('(repeat'))),
        ['1 QUEUED', '2 RUNNING', '3 ABORTING', '4 ABORTED'],
        lines.join('\n'),
      );
    });
  }
});
