import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../src/core/logger.ts';

/**
 * A real HTTP receiver on 127.0.0.1 for the delivery tests: it records every request (headers,
 * body, when it arrived and when its connection closed) and answers with the scripted replies in
 * order, the last one repeated.
 */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  arrivedAt: number;
  /** When the client's connection closed (performance.now()); null while open. */
  closedAt: number | null;
}

/** How to answer one request: a status (with headers), or never. */
export type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

export interface Receiver {
  port: number;
  url(path?: string): string;
  requests: ReceivedRequest[];
  /** Resolves when `count` requests have arrived. */
  received(count: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(replies: readonly Reply[]): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        arrivedAt: performance.now(),
        closedAt: null,
      };
      req.socket.once('close', () => {
        received.closedAt = performance.now();
      });
      const reply = replies[Math.min(requests.length, replies.length - 1)] ?? { status: 200 };
      requests.push(received);
      for (const waiter of waiters.filter((w) => requests.length >= w.count)) waiter.resolve();
      if (reply === 'hang') return;
      res.writeHead(reply.status, reply.headers ?? {});
      res.end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    requests,
    received: (count) =>
      requests.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve })),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A logger that keeps every line (fields and message), to check what was and was not logged. */
export function capturingLogger(lines: string[] = []): Logger & { lines: string[] } {
  const bound = (bindings: Record<string, unknown>): Logger & { lines: string[] } => {
    const write =
      (level: string) =>
      (fieldsOrMessage: object | string, message?: string): void => {
        const fields = typeof fieldsOrMessage === 'string' ? {} : fieldsOrMessage;
        const text = typeof fieldsOrMessage === 'string' ? fieldsOrMessage : (message ?? '');
        lines.push(JSON.stringify({ level, ...bindings, ...fields, msg: text }));
      };
    return {
      lines,
      error: write('error'),
      warn: write('warn'),
      info: write('info'),
      debug: write('debug'),
      child: (more) => bound({ ...bindings, ...more }),
    };
  };
  return bound({});
}
