import type { ServerResponse } from 'node:http';

export type HealthRoute = '/healthz' | '/readyz';

export function isHealthRoute(route: string): route is HealthRoute {
  return route === '/healthz' || route === '/readyz';
}

/** What /readyz reports: whether to send requests here, and the shared dependencies missing now. */
export interface Readiness {
  /** Recovered and listening, not stopping. */
  started: boolean;
  /** Shared dependencies that do not answer (see cluster/shared-state.ts). */
  missing: readonly string[];
}

/**
 * /healthz: the process answers (whatever its dependencies do). /readyz: 200 once it has recovered
 * its jobs and listens, 503 while it starts, stops, or cannot reach PostgreSQL (every request
 * needs the job store). Without Redis it stays ready, "degraded": submissions go on under a
 * per-instance limit and events reach this instance's own subscribers.
 */
export async function serveHealth(route: HealthRoute, res: ServerResponse, readiness: () => Promise<Readiness>): Promise<void> {
  if (route === '/healthz') return answer(res, 200, { status: 'ok' });
  const { started, missing } = await readiness();
  const ready = started && !missing.includes('postgresql');
  const status = !ready ? 'unavailable' : missing.length > 0 ? 'degraded' : 'ok';
  answer(res, ready ? 200 : 503, { status, ...(missing.length > 0 ? { missing } : {}) });
}

function answer(res: ServerResponse, code: number, body: object): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
