/**
 * The HTTP load generator, its own process: autocannon's programmatic API against one URL, a
 * warm-up run (discarded) then the measured run.
 */
import autocannon from 'autocannon';
import { ready, serveRpc } from '../lib/rpc.ts';

export interface LoadParams {
  url: string;
  method: 'GET' | 'POST';
  body?: string;
  connections: number;
  warmupSeconds: number;
  seconds: number;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  latencyP50: number;
  latencyP99: number;
  latencyMean: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

async function once(params: LoadParams, seconds: number): Promise<autocannon.Result> {
  return autocannon({
    url: params.url,
    method: params.method,
    connections: params.connections,
    duration: seconds,
    headers: params.method === 'POST' ? { 'content-type': 'application/json', accept: 'application/graphql-response+json' } : { accept: 'application/graphql-response+json' },
    ...(params.body === undefined ? {} : { body: params.body }),
  });
}

serveRpc({
  run: async (raw): Promise<LoadResult> => {
    const params = raw as LoadParams;
    // The answer must be right before it is fast.
    const check = await fetch(params.url, {
      method: params.method,
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      ...(params.body === undefined ? {} : { body: params.body }),
    });
    const text = await check.text();
    if (check.status !== 200 || text.includes('"errors"')) throw new Error(`bad answer ${check.status}: ${text.slice(0, 300)}`);
    if (params.warmupSeconds > 0) await once(params, params.warmupSeconds);
    const result = await once(params, params.seconds);
    return {
      requests: result.requests.total,
      seconds: result.duration,
      rps: result.requests.total / result.duration,
      latencyP50: result.latency.p50,
      latencyP99: result.latency.p99,
      latencyMean: result.latency.mean,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
    };
  },
  stop: () => process.exit(0),
});
ready({ pid: process.pid });
