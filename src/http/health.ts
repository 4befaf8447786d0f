import type { ServerResponse } from 'node:http';

export type HealthRoute = '/healthz' | '/readyz';

export function isHealthRoute(route: string): route is HealthRoute {
  return route === '/healthz' || route === '/readyz';
}

/** /healthz: the process answers. /readyz: it has recovered its jobs and listens, and is not stopping. */
export function serveHealth(route: HealthRoute, res: ServerResponse, ready: boolean): void {
  const ok = route === '/healthz' || ready;
  res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ status: ok ? 'ok' : 'unavailable' }));
}
