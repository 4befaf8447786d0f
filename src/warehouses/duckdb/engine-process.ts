/**
 * The embedded engine's own OS process, started by EngineWarehouse with `child_process.fork`.
 * It opens the hardened DuckDB instance on the warehouse file, the writer side of the result store
 * and a DuckDBEngine, then serves the API process over IPC (engine-protocol.ts): it runs what it
 * is sent and reports every state change of every query. User SQL runs only here, so a crash, a
 * runaway query or an invalidated instance costs this process, never the API's.
 */
import type { DuckDBInstance } from '@duckdb/node-api';
import { ParquetResultWriter } from './parquet-result-writer.ts';
import { isInstanceInvalidated } from './duckdb-errors.ts';
import { DuckDBEngine } from './duckdb-engine.ts';
import { type EngineMessage, type EngineOptions, type EngineRequest, isEngineRequest } from './engine-protocol.ts';
import { openHardenedInstance } from './hardened-instance.ts';

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

/** How long to wait for the file lock of an engine that is still dying (its API process was killed). */
const LOCK_WAIT_MS = 5000;

/** What this process has open; made once by `open`. */
interface Opened {
  engine: DuckDBEngine;
  results: ParquetResultWriter;
}

async function open(options: EngineOptions): Promise<Opened> {
  // The engine writes and reads results itself, so their directory is one it may use.
  const hardening = { ...options.hardening, allowedDirs: [...options.hardening.allowedDirs, options.resultsDir] };
  const deadline = Date.now() + LOCK_WAIT_MS;
  let instance: DuckDBInstance;
  for (;;) {
    try {
      instance = await openHardenedInstance(hardening);
      break;
    } catch (error) {
      if (!/Could not set lock on file/.test(messageOf(error)) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const results = new ParquetResultWriter(options.resultsDir, instance);
  const engine = new DuckDBEngine(instance, results, options.caps);
  /** Once DuckDB has invalidated the instance, no state this engine reports is worth anything. */
  let poisoned = false;
  engine.onChange((queryId, state) => {
    if (poisoned) return;
    send({ type: 'state', queryId, state });
    if (state.error && isInstanceInvalidated(state.error.message)) {
      poisoned = true;
      send({ type: 'poisoned', queryId, message: state.error.message });
    }
  });
  return { engine, results };
}

/** Serves the API process's requests; what is open lives here, not in module state. */
function requestHandler(): (request: EngineRequest) => Promise<void> {
  let opened: Opened | null = null;
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
          if (request.type === 'submit') opened.engine.submit(request.request, request.queryId);
          else opened.engine.cancel(request.queryId);
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
          await opened?.engine.close();
          opened?.results.close();
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
