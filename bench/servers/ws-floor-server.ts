/**
 * The WebSocket floor: a bare `ws` server, no GraphQL, that sends each client a message of the
 * same size and shape as jobql's graphql-ws `next` message for a jobStatus event, with the send
 * instant embedded where jobql has `endedAt`. Clients connect to `?i=<index>`.
 *
 *   send {index, subId}  one message to one client (the single-event case)
 *   burst {}             one message to every client, all stamped with the same instant
 *
 * What a hand-written push server does at the least: one JSON.stringify and one send per client.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { ready, serveRpc, processProbes } from '../lib/rpc.ts';

const server = createServer((_, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server, perMessageDeflate: false });
const clients = new Map<number, WebSocket>();
wss.on('connection', (socket, request) => {
  const index = Number(new URL(request.url ?? '/', 'http://x').searchParams.get('i'));
  clients.set(index, socket);
  socket.on('close', () => clients.delete(index));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

/** jobql's message for a job's SUCCESS event, field for field (see the subscription in bench/subscriptions.ts). */
function message(subId: string, index: number, at: string): string {
  const jobId = `job_${index.toString(16).padStart(32, '0')}`;
  return JSON.stringify({
    id: subId,
    type: 'next',
    payload: {
      data: {
        jobStatus: {
          status: 'SUCCESS',
          previousStatus: 'RUNNING',
          sequence: 3,
          at,
          job: { id: jobId, status: 'SUCCESS', isDone: true, isFailed: false, endedAt: at },
        },
      },
    },
  });
}

serveRpc({
  ...processProbes,
  connected: () => clients.size,
  send: (params) => {
    const { index, subId } = params as { index: number; subId: string };
    const at = new Date();
    const socket = clients.get(index);
    if (!socket) throw new Error(`no client ${index}`);
    socket.send(message(subId, index, at.toISOString()));
    return { at: at.getTime() };
  },
  burst: () => {
    const at = new Date();
    const stamp = at.toISOString();
    for (const [index, socket] of clients) socket.send(message('1', index, stamp));
    return { at: at.getTime(), sent: clients.size };
  },
  stop: () => {
    for (const socket of clients.values()) socket.terminate();
    wss.close();
    server.closeAllConnections();
    server.close(() => process.exit(0));
  },
});
ready({ url: `ws://127.0.0.1:${port}/` });
