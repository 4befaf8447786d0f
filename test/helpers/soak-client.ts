/**
 * The soak's clients, run as a child process (`fork`) so that their memory never mixes with the
 * server's heap that the soak measures. The parent sends one `run` message per round; every cycle
 * opens a fresh TCP connection, goes as far as its mode says, and cuts the connection with
 * `terminate()`: the TCP socket is destroyed, no close frame is sent. The child answers with the
 * count of each outcome.
 */
import WebSocket from 'ws';

/** How far a cycle goes before it cuts the connection. */
export const SOAK_MODES = [
  'no-init', // open, cut before connection_init
  'before-ack', // connection_init, cut before the ack can arrive
  'after-subscribe', // ack, subscribe, cut in the same tick
  'racing-subscribe', // ack, subscribe, cut a moment later: while the server sets the subscription up
  'after-first-event', // ack, subscribe, cut on the first event
  'finished-job', // ack, subscribe to a finished job, cut after its one event and complete
  'several', // ack, three subscriptions (two selections, two jobs), cut on the first event
  'complete-then-cut', // ack, subscribe, first event, `complete` from the client, cut
  'slow', // ack, subscribe to a running job, pause reading, cut later (paused, with unread frames)
] as const;
export type SoakMode = (typeof SOAK_MODES)[number];

export interface SoakRun {
  op: 'run';
  url: string;
  token?: string;
  /** Jobs that stay running throughout. */
  running: string[];
  /** Jobs that have ended. */
  finished: string[];
  cycles: number;
  concurrency: number;
  /** Offsets the rotation of modes, so rounds differ. */
  seed: number;
}

export interface SoakResult {
  op: 'done';
  cycles: number;
  ms: number;
  /** `<mode>:<how it ended>` → count; anything but `:cut` is unexpected. */
  outcomes: Record<string, number>;
}

/** A client that subscribes `count` times, never reads, and waits for the server to drop it. */
export interface SlowReader {
  op: 'slow';
  url: string;
  query: string;
  variables: Record<string, unknown>;
  count: number;
}

export interface SlowReaderResult {
  op: 'slow-done';
  /** The close code seen by the client, or null if it was still open after a minute. */
  code: number | null;
  /** From the last subscribe sent to the close. */
  ms: number;
}

const STATUS = 'subscription($id: ID!) { jobStatus(id: $id) { status sequence at job { id status isTerminal } } }';
const SMALL = 'subscription($id: ID!) { jobStatus(id: $id) { status } }';
const CYCLE_TIMEOUT_MS = 15_000;

interface Message {
  type: string;
  id?: string;
}

function cycle(run: SoakRun, index: number): Promise<string> {
  const mode = SOAK_MODES[(index + run.seed) % SOAK_MODES.length] ?? 'no-init';
  const running = run.running[index % run.running.length] ?? '';
  const finished = run.finished[index % run.finished.length] ?? '';
  return new Promise((resolve) => {
    const ws = new WebSocket(run.url, 'graphql-transport-ws', { perMessageDeflate: false });
    let ending = 'closed-by-server';
    let cut = false;
    const terminate = (): void => {
      if (cut) return;
      cut = true;
      ending = 'cut';
      ws.terminate();
    };
    const timer = setTimeout(() => {
      ending = 'timeout';
      cut = true;
      ws.terminate();
    }, CYCLE_TIMEOUT_MS);
    const subscribe = (id: string, query: string, job: string): void =>
      ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables: { id: job } } }));
    ws.on('error', () => {}); // a cut or a reset; the close that follows ends the cycle
    ws.on('close', () => {
      clearTimeout(timer);
      resolve(`${mode}:${ending}`);
    });
    ws.on('open', () => {
      if (mode === 'no-init') return terminate();
      ws.send(JSON.stringify({ type: 'connection_init', payload: run.token ? { authorization: `Bearer ${run.token}` } : {} }));
      if (mode === 'before-ack') terminate();
    });
    ws.on('message', (data) => {
      if (cut) return;
      const message = JSON.parse(String(data)) as Message;
      if (message.type === 'connection_ack') {
        switch (mode) {
          case 'after-subscribe':
            subscribe('s', STATUS, running);
            return terminate();
          case 'racing-subscribe':
            subscribe('s', STATUS, running);
            // 0 to 2 ms later: the server is authenticating the context, reading the job, or done.
            return void setTimeout(terminate, index % 3);
          case 'finished-job':
            return subscribe('s', STATUS, finished);
          case 'several':
            subscribe('a', STATUS, running);
            subscribe('b', SMALL, running);
            return subscribe('c', STATUS, finished);
          case 'slow':
            subscribe('s', STATUS, running);
            ws.pause();
            return void setTimeout(terminate, 5 + (index % 20));
          default:
            return subscribe('s', STATUS, running);
        }
      }
      if (message.type === 'next') {
        if (mode === 'complete-then-cut') {
          ws.send(JSON.stringify({ id: message.id, type: 'complete' }));
          return void setImmediate(terminate);
        }
        if (mode !== 'finished-job') return terminate();
      }
      if (message.type === 'complete' && mode === 'finished-job') return terminate();
      if (message.type === 'error') {
        ending = 'error';
        cut = true;
        ws.terminate();
      }
    });
  });
}

async function runRound(run: SoakRun): Promise<SoakResult> {
  const started = performance.now();
  const outcomes: Record<string, number> = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < run.cycles) {
      const outcome = await cycle(run, next++);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(run.concurrency, run.cycles) }, worker));
  return { op: 'done', cycles: run.cycles, ms: performance.now() - started, outcomes };
}

function slowReader(slow: SlowReader): Promise<SlowReaderResult> {
  return new Promise((resolve) => {
    const ws = new WebSocket(slow.url, 'graphql-transport-ws', { perMessageDeflate: false });
    let sent = 0;
    let pinger: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      clearInterval(pinger);
      ws.terminate();
      resolve({ op: 'slow-done', code: null, ms: performance.now() - sent });
    }, 60_000);
    ws.on('error', () => {});
    ws.once('close', (code) => {
      clearTimeout(giveUp);
      clearInterval(pinger);
      resolve({ op: 'slow-done', code, ms: performance.now() - sent });
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} })));
    ws.once('message', () => {
      ws.pause(); // reads nothing more: what the server sends stays in the kernel, then in its buffer
      for (let i = 0; i < slow.count; i++) {
        ws.send(JSON.stringify({ id: `p${i}`, type: 'subscribe', payload: { query: slow.query, variables: slow.variables } }));
      }
      sent = performance.now();
      // Writing keeps going while reading does not: once the server has cut the connection, a
      // write fails (the peer reset it) and the close shows here without reading anything.
      pinger = setInterval(() => ws.readyState === WebSocket.OPEN && ws.ping(), 100);
    });
  });
}

process.on('message', (message: SoakRun | SlowReader) => {
  if (message.op === 'run') void runRound(message).then((result) => process.send?.(result));
  else if (message.op === 'slow') void slowReader(message).then((result) => process.send?.(result));
});
process.on('disconnect', () => process.exit(0));
