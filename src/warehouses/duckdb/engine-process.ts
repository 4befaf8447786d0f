/**
 * The embedded engine's own OS process, started by EngineWarehouse with `child_process.fork`.
 * It keeps every principal's hardened DuckDB database, with the writer side of its results and a
 * DuckDBEngine (tenant-engines.ts), and serves the API process over IPC (engine-protocol.ts): it
 * runs what it is sent and reports every state change of every query. User SQL runs only here,
 * so a crash, a runaway query or an invalidated instance costs this process, never the API's.
 */
import { isInstanceInvalidated } from './duckdb-errors.ts';
import { type EngineMessage, type EngineOptions, type EngineRequest, isEngineRequest } from './engine-protocol.ts';
import { TenantEngines } from './tenant-engines.ts';

process.title = 'jobql-engine';

if (!process.send) {
  process.stderr.write('engine-process.ts is the embedded engine; jobql starts it (child_process.fork)\n');
  process.exit(2);
}

// The API process is gone, even by SIGKILL: the channel closes. Leave no orphan engine behind.
// Not process.exit(): it waits for libuv's threads, and a running query holds one until it ends.
process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));

/** A send that cannot throw: a closed channel means the parent is gone, and 'disconnect' exits. */
function send(message: EngineMessage, then?: () => void): void {
  if (!process.connected) return;
  process.send?.(message, undefined, {}, () => then?.());
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function open(options: EngineOptions): Promise<TenantEngines> {
  /** Once DuckDB has invalidated an instance, no state this engine reports is worth anything. */
  let poisoned = false;
  const tenants = new TenantEngines(options, (queryId, state) => {
    if (poisoned) return;
    send({ type: 'state', queryId, state });
    if (state.error && isInstanceInvalidated(state.error.message)) {
      poisoned = true;
      send({ type: 'poisoned', queryId, message: state.error.message });
    }
  });
  try {
    for (const owner of options.openAtStart) await tenants.open(owner);
  } catch (error) {
    await tenants.close().catch(() => {});
    throw error;
  }
  return tenants;
}

/** Serves the API process's requests; what is open lives here, not in module state. */
function requestHandler(): (request: EngineRequest) => Promise<void> {
  let opened: TenantEngines | null = null;
  return async (request) => {
    switch (request.type) {
      case 'open':
        try {
          opened = await open(request.options);
          send({ type: 'ready' });
        } catch (error) {
          send({ type: 'start-failed', message: messageOf(error) }, () => process.exit(1));
        }
        return;
      case 'submit':
      case 'cancel': {
        let error: string | null = null;
        try {
          if (!opened) throw new Error('the engine is not open');
          // A submit's outcome (its database opened or not) is reported as the query's state.
          if (request.type === 'submit') void opened.submit(request.request, request.queryId);
          else opened.cancel(request.queryId);
        } catch (caught) {
          error = messageOf(caught);
        }
        send({ type: 'reply', id: request.id, error });
        return;
      }
      case 'close': {
        // Interrupts running queries and closes the instance (a checkpoint); the parent kills this
        // process if it takes too long.
        let error: string | null = null;
        try {
          await opened?.close();
        } catch (caught) {
          error = messageOf(caught);
        }
        send({ type: 'reply', id: request.id, error }, () => process.exit(0));
        return;
      }
    }
  };
}

const handle = requestHandler();
process.on('message', (message: unknown) => {
  if (isEngineRequest(message)) void handle(message);
});
