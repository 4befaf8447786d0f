/**
 * The WebSocket load generator of the progress benchmark (bench/progress.ts), its own process:
 * opens `sockets` sockets to jobql (graphql-transport-ws by hand on `ws`, as
 * bench/clients/ws-subscribers.ts does), each with `perSocket` jobStatus subscriptions spread over
 * the given jobs, and counts the `next` messages it receives by event kind and by job.
 *
 * RPC: connect, reset (zero the counters), counts (read them), close, stop.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { ready, serveRpc } from '../lib/rpc.ts';

export const PROGRESS_SUBSCRIPTION =
  'subscription($id: ID!) { jobStatus(id: $id) { kind sequence status job { id progress { percentage } } } }';

interface NextMessage {
  id?: string;
  type?: string;
  payload?: { data?: { jobStatus?: { kind?: string; job?: { id?: string } } }; errors?: unknown };
}

const sockets: WebSocket[] = [];
/** Resolvers of each subscription's first `next` (its current state), and of each socket's ack. */
const waiting = new Map<string, () => void>();
let byKind: Record<string, number> = {};
let byJob: Record<string, Record<string, number>> = {};
let bytes = 0;
let since = performance.now();
let errors = 0;
let lastError = '';
let sample = '';

function onMessage(index: number, raw: WebSocket.RawData): void {
  const text = raw.toString();
  const message = JSON.parse(text) as NextMessage;
  if (message.type === 'connection_ack') {
    waiting.get(`${index}:ack`)?.();
    return;
  }
  if (message.type === 'ping') {
    sockets[index]?.send('{"type":"pong"}');
    return;
  }
  if (message.type === 'error' || message.payload?.errors) {
    errors += 1;
    lastError = text.slice(0, 500);
    return;
  }
  if (message.type !== 'next' || !message.id) return;
  const key = `${index}:${message.id}`;
  const first = waiting.get(key);
  if (first) {
    waiting.delete(key);
    first();
    return; // the current state on subscribe, not an event of the window
  }
  const event = message.payload?.data?.jobStatus;
  const kind = event?.kind ?? '?';
  const job = event?.job?.id ?? '?';
  byKind[kind] = (byKind[kind] ?? 0) + 1;
  const perJob = (byJob[job] ??= {});
  perJob[kind] = (perJob[kind] ?? 0) + 1;
  bytes += text.length;
  if (kind === 'PROGRESS' && !sample) sample = text;
}

function waitKey(key: string, timeoutMs: number, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(key);
      reject(new Error(`${what} timed out after ${timeoutMs} ms; errors ${errors} ${lastError}`));
    }, timeoutMs);
    waiting.set(key, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function openSocket(url: string, index: number): Promise<WebSocket> {
  const socket = new WebSocket(url, ['graphql-transport-ws'], { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
    socket.once('unexpected-response', (_, response) => reject(new Error(`HTTP ${response.statusCode}`)));
  });
  socket.on('message', (raw) => onMessage(index, raw));
  socket.on('close', (code, reason) => {
    if (code !== 1000 && code !== 1005) {
      errors += 1;
      lastError = `socket ${index} closed ${code} ${reason.toString()}`;
    }
  });
  socket.on('error', (error) => {
    errors += 1;
    lastError = error.message;
  });
  const acked = waitKey(`${index}:ack`, 30_000, `ack ${index}`);
  socket.send('{"type":"connection_init","payload":{}}');
  await acked;
  return socket;
}

interface ConnectParams {
  url: string;
  sockets: number;
  perSocket: number;
  jobIds: string[];
  /** Sockets being opened at once. */
  batch?: number;
}

serveRpc({
  /** Opens the sockets and subscriptions; subscription k of socket i is to jobIds[(i * perSocket + k) % jobs]. */
  connect: async (params) => {
    const { url, sockets: count, perSocket, jobIds, batch = 20 } = params as ConnectParams;
    const started = performance.now();
    for (let from = 0; from < count; from += batch) {
      const to = Math.min(count, from + batch);
      await Promise.all(
        Array.from({ length: to - from }, async (_, k) => {
          const index = from + k;
          const socket = await openSocket(url, index);
          sockets[index] = socket;
          const firsts: Promise<void>[] = [];
          for (let s = 0; s < perSocket; s++) {
            const subId = String(s + 1);
            firsts.push(waitKey(`${index}:${subId}`, 60_000, `subscription ${index}:${subId}`));
            const jobId = jobIds[(index * perSocket + s) % jobIds.length]!;
            socket.send(JSON.stringify({ id: subId, type: 'subscribe', payload: { query: PROGRESS_SUBSCRIPTION, variables: { id: jobId } } }));
          }
          await Promise.all(firsts);
        }),
      );
    }
    return { ms: performance.now() - started, sockets: sockets.length, errors, lastError };
  },
  reset: () => {
    byKind = {};
    byJob = {};
    bytes = 0;
    sample = '';
    since = performance.now();
  },
  counts: () => ({ ms: performance.now() - since, byKind, byJob, bytes, errors, lastError, sample }),
  close: async () => {
    await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((resolve) => {
            if (socket.readyState === WebSocket.CLOSED) return resolve();
            socket.once('close', () => resolve());
            socket.close(1000);
            setTimeout(() => {
              socket.terminate();
              resolve();
            }, 5000).unref();
          }),
      ),
    );
    sockets.length = 0;
  },
  stop: () => {
    for (const socket of sockets) socket.terminate();
    process.exit(0);
  },
});
ready({ pid: process.pid });
