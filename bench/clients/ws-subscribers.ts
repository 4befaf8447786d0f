/**
 * The WebSocket load generator, its own process: opens many sockets (one subscription each) to
 * jobql (graphql-transport-ws, by hand on `ws` to keep the client light) or to the bare `ws`
 * floor server, and records, for every terminal jobStatus message, receipt time − the time
 * embedded in the payload (`job.endedAt`), both in ms since the epoch.
 *
 * RPC: connect, subscribeExtra, waitFor, reset, collect, close (see the handlers).
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { ready, serveRpc } from '../lib/rpc.ts';

/** The subscription every jobql socket holds; the floor server mimics its messages field for field. */
export const SUBSCRIPTION =
  'subscription($id: ID!) { jobStatus(id: $id) { status previousStatus sequence at job { id status isDone isFailed endedAt } } }';

interface Receipt {
  latencyMs: number;
  bytes: number;
}

const sockets: WebSocket[] = [];
const receipts = new Map<string, Receipt>();
const waiters = new Map<string, (receipt: Receipt) => void>();
/** Resolvers of the first `next` of each subscription (its current state). */
const firstNext = new Map<string, () => void>();
let burstLatencies: number[] = [];
let burstWanted = 0;
let burstDone: (() => void) | null = null;
let burstPromise: Promise<void> = Promise.resolve();
let burstSubId = '1';
let sampleMessage = '';
let errors = 0;
let lastError = '';

const nowMs = (): number => performance.timeOrigin + performance.now();

interface NextMessage {
  id?: string;
  type?: string;
  payload?: { data?: { jobStatus?: { status?: string; job?: { endedAt?: string | null } } }; errors?: unknown };
}

function onMessage(index: number, raw: WebSocket.RawData): void {
  const receivedAt = nowMs();
  const text = raw.toString();
  const message = JSON.parse(text) as NextMessage;
  if (message.type === 'connection_ack') {
    firstNext.get(`${index}:ack`)?.();
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
  const event = message.payload?.data?.jobStatus;
  const first = firstNext.get(key);
  if (first) {
    firstNext.delete(key);
    first();
  }
  if (event?.status !== 'SUCCESS' || !event.job?.endedAt) return;
  const receipt = { latencyMs: receivedAt - Date.parse(event.job.endedAt), bytes: Buffer.byteLength(text) };
  if (!sampleMessage) sampleMessage = text;
  if (message.id === burstSubId && burstDone) {
    burstLatencies.push(receipt.latencyMs);
    if (burstLatencies.length >= burstWanted) {
      const done = burstDone;
      burstDone = null;
      done();
    }
  }
  receipts.set(key, receipt);
  waiters.get(key)?.(receipt);
  waiters.delete(key);
}

function waitKey(key: string, timeoutMs: number, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      firstNext.delete(key);
      reject(new Error(`${what} timed out after ${timeoutMs} ms; errors ${errors} ${lastError}`));
    }, timeoutMs);
    firstNext.set(key, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function openSocket(url: string, index: number, protocol: string | undefined): Promise<WebSocket> {
  const socket = new WebSocket(url, protocol ? [protocol] : [], { perMessageDeflate: false });
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
  return socket;
}

async function subscribe(index: number, subId: string, jobId: string): Promise<void> {
  const socket = sockets[index];
  if (!socket) throw new Error(`no socket ${index}`);
  const first = waitKey(`${index}:${subId}`, 60_000, `subscription ${index}:${subId}`);
  socket.send(JSON.stringify({ id: subId, type: 'subscribe', payload: { query: SUBSCRIPTION, variables: { id: jobId } } }));
  await first;
}

interface ConnectParams {
  url: string;
  mode: 'jobql' | 'floor';
  count: number;
  /** jobql: the job each socket subscribes to (index i → jobIds[i]). */
  jobIds?: string[];
  /** Sockets being opened at once. */
  batch?: number;
}

serveRpc({
  /** Opens `count` sockets; with jobql: connection_init, ack, subscribe, first event. */
  connect: async (params) => {
    const { url, mode, count, jobIds, batch = 200 } = params as ConnectParams;
    const started = nowMs();
    for (let from = sockets.length; from < count; from += batch) {
      const to = Math.min(count, from + batch);
      const opened = await Promise.all(
        Array.from({ length: to - from }, async (_, k) => {
          const index = from + k;
          if (mode === 'floor') return openSocket(`${url}?i=${index}`, index, undefined);
          const socket = await openSocket(url, index, 'graphql-transport-ws');
          const acked = waitKey(`${index}:ack`, 30_000, `ack ${index}`);
          socket.send('{"type":"connection_init","payload":{}}');
          await acked;
          return socket;
        }),
      );
      opened.forEach((socket, k) => (sockets[from + k] = socket));
      if (mode === 'jobql') {
        if (!jobIds) throw new Error('jobIds required');
        await Promise.all(opened.map((_, k) => subscribe(from + k, '1', jobIds[from + k]!)));
      }
    }
    return { ms: nowMs() - started, sockets: sockets.length, errors };
  },
  /** A second subscription on sockets 0.., id `s<i>`, to jobs[i] (single-event samples). */
  subscribeExtra: async (params) => {
    const { jobIds } = params as { jobIds: string[] };
    await Promise.all(jobIds.map((jobId, i) => subscribe(i % sockets.length, `s${i}`, jobId)));
    return { subscribed: jobIds.length };
  },
  /** One more subscription `subId` on every socket i, to jobIds[i % jobIds.length]. */
  subscribeAll: async (params) => {
    const { jobIds, subId, batch = 500 } = params as { jobIds: string[]; subId: string; batch?: number };
    const started = nowMs();
    for (let from = 0; from < sockets.length; from += batch) {
      const to = Math.min(sockets.length, from + batch);
      await Promise.all(Array.from({ length: to - from }, (_, k) => subscribe(from + k, subId, jobIds[(from + k) % jobIds.length]!)));
    }
    return { ms: nowMs() - started };
  },
  /** Latency of the terminal event for `${index}:${subId}`, once it arrives. */
  waitFor: (params) => {
    const { key, timeoutMs = 30_000 } = params as { key: string; timeoutMs?: number };
    const known = receipts.get(key);
    if (known) return known;
    return new Promise<Receipt>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no event for ${key} in ${timeoutMs} ms; errors ${errors} ${lastError}`)), timeoutMs);
      waiters.set(key, (receipt) => {
        clearTimeout(timer);
        resolve(receipt);
      });
    });
  },
  reset: () => {
    receipts.clear();
    burstLatencies = [];
    sampleMessage = '';
  },
  /** Arms the burst counter: the next `count` terminal events on subscription `subId` are the burst. */
  armBurst: (params) => {
    const { count, subId = '1' } = params as { count: number; subId?: string };
    burstSubId = subId;
    burstLatencies = [];
    burstWanted = count;
    sampleMessage = '';
    burstPromise = new Promise<void>((resolve) => (burstDone = resolve));
  },
  /** Resolves when the armed burst has fully arrived: every latency, and one message as sent. */
  awaitBurst: async (params) => {
    const { timeoutMs = 120_000 } = params as { timeoutMs?: number };
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      burstPromise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`burst: ${burstLatencies.length} of ${burstWanted} events in ${timeoutMs} ms; errors ${errors} ${lastError}`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    return { latencies: burstLatencies, sampleBytes: Buffer.byteLength(sampleMessage), sample: sampleMessage };
  },
  info: () => ({ sockets: sockets.length, errors, lastError, sample: sampleMessage, rss: process.memoryUsage().rss }),
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
