/**
 * Request/reply over a forked process's IPC channel, for the benchmark's own processes (servers
 * under test, load generators). The parent calls `call(method, params)`; the child answers with
 * `serveRpc(handlers)`. Messages are plain JSON.
 */
import { performance } from 'node:perf_hooks';

export type RpcHandler = (params: unknown) => unknown;

export interface CallMessage {
  kind: 'call';
  id: number;
  method: string;
  params: unknown;
}

export interface ReplyMessage {
  kind: 'reply';
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

export interface ReadyMessage {
  kind: 'ready';
  info: unknown;
}

export type ChildMessage = ReplyMessage | ReadyMessage;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function isCallMessage(value: unknown): value is CallMessage {
  return isObject(value) && value['kind'] === 'call' && typeof value['id'] === 'number' && typeof value['method'] === 'string';
}

export function isChildMessage(value: unknown): value is ChildMessage {
  return isObject(value) && (value['kind'] === 'reply' || value['kind'] === 'ready');
}

function send(message: ChildMessage): void {
  if (!process.send) throw new Error('this process was not started with an IPC channel (use bench/lib/process.ts)');
  process.send(message);
}

/** In the child: answers the parent's calls. A `stop` handler should end the process itself. */
export function serveRpc(handlers: Record<string, RpcHandler>): void {
  process.on('message', (message: unknown) => {
    if (!isCallMessage(message)) return;
    const handler = handlers[message.method];
    if (!handler) {
      send({ kind: 'reply', id: message.id, ok: false, error: `no method ${message.method}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.params))
      .then(
        (value) => send({ kind: 'reply', id: message.id, ok: true, value: value ?? null }),
        (error: unknown) =>
          send({ kind: 'reply', id: message.id, ok: false, error: error instanceof Error ? error.stack ?? error.message : String(error) }),
      );
  });
  // The parent went away: nothing left to measure for.
  process.on('disconnect', () => process.exit(0));
}

/** In the child: tells the parent it is ready (a server: its URL). */
export function ready(info: unknown): void {
  send({ kind: 'ready', info });
}

/** Full garbage collections until the heap settles (the process runs with --expose-gc). */
export async function collectGarbage(): Promise<void> {
  if (!globalThis.gc) throw new Error('start with --expose-gc');
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The `memory` (after GC) and `cpu` handlers every measured server answers. */
export const processProbes: Record<'memory' | 'cpu', RpcHandler> = {
  memory: async () => {
    await collectGarbage();
    return process.memoryUsage();
  },
  cpu: () => ({ usage: process.cpuUsage(), at: performance.now(), elu: performance.eventLoopUtilization() }),
};
