import { randomUUID } from 'node:crypto';
import type { DuckDBInstance } from '@duckdb/node-api';
import { JobErrorCode } from '../../core/errors.ts';
import type { JobError } from '../../core/job.ts';
import type { Download, DownloadFormat, QueryState, ResultPage } from '../../core/results.ts';
import { isTerminal } from '../../core/status.ts';
import type { Logger } from '../../core/logger.ts';
import type { SubmitRequest, Warehouse } from '../warehouse.ts';
import { type Engine, EngineGone, EngineSupervisor, type KillReason } from './engine-supervisor.ts';
import { type EngineOptions, type StopReason, stoppedState } from './engine-protocol.ts';
import { openHardenedInstance } from './hardened-instance.ts';
import { ParquetResultStore } from './parquet-result-store.ts';

/** How long a finished query's state stays for the poller to read. */
const FORGET_AFTER_MS = 10 * 60_000;
/** The least time `close` gives the engine to close cleanly (a checkpoint) before the kill. */
const MIN_CLOSE_GRACE_MS = 1_000;

export interface EngineWarehouseOptions {
  engine: EngineOptions;
  /** How long a cancelled or timed-out query may take to stop before its engine is killed. */
  killAfterMs: number;
  /** libuv's pool in the engine: each running query holds one of its threads for its whole run. */
  threadPoolSize: number;
  logger: Logger;
}

interface Query {
  jobId: string;
  engine: Engine;
  state: QueryState;
  /** Why the API process asked it to stop, once it did. */
  stopReason: StopReason | null;
  /** Fires timeoutSeconds + killAfter after submit: the hard stop behind the engine's own timer. */
  timeoutTimer: NodeJS.Timeout | null;
  /** Fires killAfter after a cancel. */
  killTimer: NodeJS.Timeout | null;
}

/** Node's largest timer; a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The embedded warehouse as the API process sees it: DuckDB runs in a child process
 * (engine-process.ts), which an EngineSupervisor starts, talks to over IPC, and kills when told to;
 * this class keeps the queries and implements the Warehouse port over it.
 *
 * - Every query's state is pushed by the engine as it changes and kept here, so `status` answers
 *   without a round trip, and when the engine dies it is known which queries it took with it.
 * - A cancel interrupts (in the engine) and arms a kill after `killAfterMs`; a query also gets a
 *   kill at `timeoutSeconds * 1000 + killAfterMs`. A SIGKILL ends every query of that engine.
 * - Any exit of the engine (a crash, a kill -9 from outside, one of ours) ends its unfinished
 *   queries: ABORTED when they were cancelled, STATEMENT_TIMEOUT when they timed out, otherwise
 *   FAILED_WITH_INCIDENT / ENGINE_CRASHED. Then a fresh engine starts; submits wait for it.
 * - Results are read here, through an API-side ParquetResultStore with its own in-memory DuckDB
 *   that runs only jobql's SQL over the result files: large downloads never cross the IPC channel.
 */
export class EngineWarehouse implements Warehouse {
  readonly name = 'duckdb';
  readonly forgetsOnRestart = true;
  readonly idempotentSubmit = false;
  readonly #options: EngineWarehouseOptions;
  readonly #log: Logger;
  readonly #engines: EngineSupervisor;
  readonly #readerInstance: DuckDBInstance;
  readonly #results: ParquetResultStore;
  readonly #queries = new Map<string, Query>();
  readonly #listeners = new Set<(queryId: string) => void>();
  /** Submits waiting for an engine, by job id, so a cancel without a query id can stop them. */
  readonly #waiting = new Map<string, { cancelled: boolean }>();

  private constructor(options: EngineWarehouseOptions, readerInstance: DuckDBInstance, results: ParquetResultStore) {
    this.#options = options;
    this.#log = options.logger;
    this.#readerInstance = readerInstance;
    this.#results = results;
    this.#engines = new EngineSupervisor({
      engine: options.engine,
      threadPoolSize: options.threadPoolSize,
      logger: options.logger,
      onState: (engine, queryId, state) => this.#onState(engine, queryId, state),
      onGone: (engine, code, signal, wasCurrent) => this.#engineGone(engine, code, signal, wasCurrent),
    });
  }

  /** Opens the API side of the results and starts the first engine; fails when it cannot start. */
  static async open(options: EngineWarehouseOptions): Promise<EngineWarehouse> {
    const { hardening, layout } = options.engine;
    // Hardened like the engine's, although it never runs user SQL: defence in depth. It reads
    // every tenant's results (for the API, which checks who may see a job), and nothing else.
    const readerInstance = await openHardenedInstance({
      ...hardening,
      path: ':memory:',
      allowedDirs: [layout.resultsDir, layout.tenantsDir],
      sharedDatabase: null,
    });
    const results = new ParquetResultStore(layout, readerInstance);
    results.removeOwnStrays();
    const warehouse = new EngineWarehouse(options, readerInstance, results);
    try {
      await warehouse.#engines.engine();
    } catch (error) {
      await warehouse.close();
      throw error;
    }
    return warehouse;
  }

  /** The engine process's pid, while one is up (tests, and operators through the logs). */
  get enginePid(): number | null {
    return this.#engines.current?.pid ?? null;
  }

  async submit(request: SubmitRequest): Promise<string> {
    const waiting = { cancelled: false };
    this.#waiting.set(request.jobId, waiting);
    let engine: Engine;
    try {
      engine = await this.#engines.engine();
      // It died between starting and now (its queries are already ended): take the next one.
      if (engine.gone) engine = await this.#engines.engine();
    } finally {
      this.#waiting.delete(request.jobId);
    }
    if (waiting.cancelled) throw new Error('The job was cancelled before the engine took it');
    if (engine.gone) throw new Error('The embedded engine stopped before it took the job');

    const queryId = randomUUID();
    const query: Query = {
      jobId: request.jobId,
      engine,
      state: { status: 'QUEUED', startedAt: null, endedAt: null, error: null, progress: null, dml: null },
      stopReason: null,
      timeoutTimer: null,
      killTimer: null,
    };
    this.#queries.set(queryId, query);
    query.timeoutTimer = setTimeout(
      () => this.#hardStop(queryId, query, 'timeout'),
      Math.min(request.timeoutSeconds * 1000 + this.#options.killAfterMs, MAX_TIMER_MS),
    ).unref();
    try {
      await this.#engines.request(engine, { type: 'submit', queryId, request });
    } catch (error) {
      // The engine died holding the job: it ends ENGINE_CRASHED, reported through status().
      if (error instanceof EngineGone) return queryId;
      this.#settle(queryId, query);
      this.#queries.delete(queryId);
      throw error;
    }
    return queryId;
  }

  async status(queryIds: readonly string[]): Promise<Map<string, QueryState>> {
    const states = new Map<string, QueryState>();
    for (const id of queryIds) {
      const query = this.#queries.get(id);
      if (query) states.set(id, { ...query.state });
    }
    return states;
  }

  async describe(): Promise<null> {
    // Every query of the embedded engine is one of jobql's own jobs; there is nothing else to attach.
    return null;
  }

  async cancel(jobId: string, queryId: string | null): Promise<void> {
    if (!queryId) {
      // Its submit is waiting for an engine: it will not be handed over.
      const waiting = this.#waiting.get(jobId);
      if (waiting) waiting.cancelled = true;
      return;
    }
    const query = this.#queries.get(queryId);
    if (!query || isTerminal(query.state.status) || query.stopReason) return;
    query.stopReason = 'cancel';
    // The soft interrupt; its answer does not matter, the state reports how the query ends.
    this.#engines.request(query.engine, { type: 'cancel', queryId }).catch(() => {});
    if (this.#options.killAfterMs === 0) this.#hardStop(queryId, query, 'cancel');
    else query.killTimer = setTimeout(() => this.#hardStop(queryId, query, 'cancel'), this.#options.killAfterMs).unref();
  }

  async readResult(queryId: string, offset: number, limit: number): Promise<ResultPage | null> {
    return this.#results.read(queryId, offset, limit);
  }

  async downloadResult(queryId: string, format: DownloadFormat): Promise<Download | null> {
    return this.#results.download(queryId, format);
  }

  async deleteResult(queryId: string): Promise<void> {
    this.#results.delete(queryId);
  }

  onChange(listener: (queryId: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Asks the engine to close (it interrupts its queries), waits a bounded time, then kills it. */
  async close(): Promise<void> {
    if (this.#engines.closed) return;
    const closing = this.#engines.close(Math.max(this.#options.killAfterMs, MIN_CLOSE_GRACE_MS));
    for (const query of this.#queries.values()) this.#clearTimers(query);
    await closing;
    this.#results.close();
    this.#readerInstance.closeSync();
  }

  /**
   * A state the engine sent: kept for `status`, and the poller nudged. A change of progress alone
   * nudges too (at most every PROGRESS_SAMPLE_MS per query): `status` answers from here, so it
   * costs no round trip, and subscribers never add a check.
   */
  #onState(engine: Engine, queryId: string, state: QueryState): void {
    const query = this.#queries.get(queryId);
    if (!query || query.engine !== engine || isTerminal(query.state.status)) return;
    query.state = state;
    if (isTerminal(state.status)) this.#settle(queryId, query);
    this.#notify(queryId);
  }

  /** The hard stop behind a cancel or a timeout: kills the engine if the query is still not over. */
  #hardStop(queryId: string, query: Query, reason: 'cancel' | 'timeout'): void {
    if (isTerminal(query.state.status) || query.engine.gone) return;
    query.stopReason ??= reason;
    this.#log.warn({ queryId, jobId: query.jobId, pid: query.engine.pid, reason }, 'query did not stop in time; killing the engine');
    this.#engines.kill(query.engine, { kind: reason, queryId });
  }

  /** An engine exited: its unfinished queries end (a fresh engine is the supervisor's to start). */
  #engineGone(engine: Engine, code: number | null, signal: NodeJS.Signals | null, wasCurrent: boolean): void {
    const ended: string[] = [];
    const endedAt = new Date();
    for (const [queryId, query] of this.#queries) {
      if (query.engine !== engine || isTerminal(query.state.status)) continue;
      query.state = { ...query.state, ...this.#outcome(query, engine, code, signal), endedAt };
      this.#settle(queryId, query);
      ended.push(queryId);
    }
    if (wasCurrent) {
      const reason = engine.killReason?.kind ?? (this.#engines.closed ? 'closed' : 'crash');
      const level = reason === 'crash' ? 'error' : reason === 'closed' || reason === 'close' ? 'info' : 'warn';
      this.#log[level]({ pid: engine.pid, code, signal, reason, queriesEnded: ended.length }, 'engine exited');
    }
    for (const queryId of ended) this.#notify(queryId);
  }

  /** How a query ends when its engine dies under it. */
  #outcome(query: Query, engine: Engine, code: number | null, signal: NodeJS.Signals | null): Pick<QueryState, 'status' | 'error'> {
    if (query.stopReason) return stoppedState(query.stopReason);
    const reason = engine.killReason ?? (this.#engines.closed ? { kind: 'close' } : null);
    return { status: 'FAILED_WITH_INCIDENT', error: crashError(reason, code, signal) };
  }

  /** A query reached its end here: no more timers; its state stays a while for the poller. */
  #settle(queryId: string, query: Query): void {
    this.#clearTimers(query);
    setTimeout(() => {
      if (this.#queries.get(queryId) === query) this.#queries.delete(queryId);
    }, FORGET_AFTER_MS).unref();
  }

  #clearTimers(query: Query): void {
    if (query.timeoutTimer) clearTimeout(query.timeoutTimer);
    if (query.killTimer) clearTimeout(query.killTimer);
    query.timeoutTimer = null;
    query.killTimer = null;
  }

  #notify(queryId: string): void {
    for (const listener of this.#listeners) {
      try {
        listener(queryId);
      } catch (error) {
        this.#log.error({ err: error, queryId }, 'warehouse change listener failed');
      }
    }
  }
}

function crashError(reason: KillReason | null, code: number | null, signal: NodeJS.Signals | null): JobError {
  const tail = 'The job was not run again; a fresh engine takes the next jobs.';
  let message: string;
  switch (reason?.kind) {
    case 'cancel':
    case 'timeout':
      message =
        `The embedded engine was killed because another job did not stop within JOBQL_DUCKDB_KILL_AFTER_MS of its ` +
        `${reason.kind === 'cancel' ? 'cancel' : 'timeout'}; this job was running in the same engine.`;
      break;
    case 'poisoned':
      message = `The embedded engine was replaced because DuckDB invalidated it while running another job (${reason.message}).`;
      break;
    case 'unresponsive':
      message = 'The embedded engine stopped answering and was killed while this job ran.';
      break;
    case 'close':
      message = 'The embedded engine was stopped because the server shut down while this job ran.';
      break;
    default:
      message = `The embedded engine process exited unexpectedly (${signal ?? `exit code ${code}`}) while this job ran.`;
  }
  return { code: JobErrorCode.ENGINE_CRASHED, sqlState: null, message: `${message} ${tail}` };
}
