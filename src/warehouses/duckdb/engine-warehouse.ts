import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { DuckDBInstance } from '@duckdb/node-api';
import { JobErrorCode } from '../../core/errors.ts';
import type { JobError } from '../../core/job.ts';
import { isTerminal } from '../../core/status.ts';
import type { Logger } from '../../logger.ts';
import type { Download, DownloadFormat } from '../../core/results.ts';
import { ParquetResultStore } from '../../results/parquet-result-store.ts';
import type { SubmitRequest, Warehouse } from '../warehouse.ts';
import type { QueryState, ResultPage } from '../../core/results.ts';
import { type EngineOptions, type EngineRequest, isEngineMessage, type StopReason, stoppedState } from './engine-protocol.ts';
import { openHardenedInstance } from './hardened-instance.ts';

const ENGINE_MAIN = fileURLToPath(new URL('./engine-process.ts', import.meta.url));

/** How long an engine may take to open its instance (a large WAL to replay) before it is killed. */
const START_TIMEOUT_MS = 30_000;
/** An engine that does not answer a request in this time is taken for hung and killed. */
const REQUEST_TIMEOUT_MS = 10_000;
/** How long a finished query's state stays for the poller to read. */
const FORGET_AFTER_MS = 10 * 60_000;
/** After a SIGKILL, how long to wait for the exit before giving up on seeing it. */
const EXIT_WAIT_MS = 5_000;
/** The least time `close` gives the engine to close cleanly (a checkpoint) before the kill. */
const MIN_CLOSE_GRACE_MS = 1_000;
/** The environment the engine gets: none of the API's secrets, only what Node and DuckDB use. */
const ENGINE_ENV = /^(PATH|HOME|TZ|LANG|LC_[A-Z_]+|TMPDIR|TMP|TEMP|SYSTEMROOT)$/;

export interface EngineWarehouseOptions {
  engine: EngineOptions;
  /** How long a cancelled or timed-out query may take to stop before its engine is killed. */
  killAfterMs: number;
  /** libuv's pool in the engine: each running query holds one of its threads for its whole run. */
  threadPoolSize: number;
  logger: Logger;
}

/** Why the API process killed an engine (none: it died on its own); `start`: it never got ready. */
type KillReason =
  | { kind: 'cancel' | 'timeout'; queryId: string }
  | { kind: 'poisoned'; queryId: string; message: string }
  | { kind: 'unresponsive' | 'start' | 'close' };

/** The request was not answered because its engine is gone (or going). */
class EngineGone extends Error {}

interface Pending {
  resolve: () => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

interface Engine {
  child: ChildProcess;
  pid: number;
  pending: Map<number, Pending>;
  /** Set before a kill, so the queries it ends can say why. */
  killReason: KillReason | null;
  /** DuckDB invalidated its instance: what it says from then on is ignored. */
  poisoned: boolean;
  /** Gone: exited, its channel drained, its queries ended. */
  gone: boolean;
  ended: Promise<void>;
  onReady: ((error: Error | null) => void) | null;
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

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** Node's largest timer; a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * The embedded warehouse as the API process sees it: DuckDB runs in a child process
 * (engine-process.ts), which this class starts, talks to over IPC, and kills when it must.
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
  readonly #readerInstance: DuckDBInstance;
  readonly #results: ParquetResultStore;
  readonly #queries = new Map<string, Query>();
  readonly #listeners = new Set<(queryId: string) => void>();
  /** Submits waiting for an engine, by job id, so a cancel without a query id can stop them. */
  readonly #waiting = new Map<string, { cancelled: boolean }>();
  #current: Engine | null = null;
  #starting: Promise<Engine> | null = null;
  #nextRequestId = 0;
  #closed = false;

  private constructor(options: EngineWarehouseOptions, readerInstance: DuckDBInstance, results: ParquetResultStore) {
    this.#options = options;
    this.#log = options.logger;
    this.#readerInstance = readerInstance;
    this.#results = results;
  }

  /** Opens the API side of the results and starts the first engine; fails when it cannot start. */
  static async open(options: EngineWarehouseOptions): Promise<EngineWarehouse> {
    const { hardening, resultsDir } = options.engine;
    // Hardened like the engine's, although it never runs user SQL: defence in depth.
    const readerInstance = await openHardenedInstance({ ...hardening, path: ':memory:', allowedDirs: [resultsDir] });
    const results = new ParquetResultStore(resultsDir, readerInstance);
    results.removeOwnStrays();
    const warehouse = new EngineWarehouse(options, readerInstance, results);
    try {
      await warehouse.#engine();
    } catch (error) {
      await warehouse.close();
      throw error;
    }
    return warehouse;
  }

  /** The engine process's pid, while one is up (tests, and operators through the logs). */
  get enginePid(): number | null {
    return this.#current?.pid ?? null;
  }

  async submit(request: SubmitRequest): Promise<string> {
    const waiting = { cancelled: false };
    this.#waiting.set(request.jobId, waiting);
    let engine: Engine;
    try {
      engine = await this.#engine();
      // It died between starting and now (its queries are already ended): take the next one.
      if (engine.gone) engine = await this.#engine();
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
      await this.#request(engine, { type: 'submit', queryId, request });
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
    this.#request(query.engine, { type: 'cancel', queryId }).catch(() => {});
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
    if (this.#closed) return;
    this.#closed = true;
    for (const query of this.#queries.values()) this.#clearTimers(query);
    const engine = this.#current ?? (await this.#starting?.catch(() => null)) ?? null;
    if (engine && !engine.gone) {
      this.#request(engine, { type: 'close' }).catch(() => {});
      const grace = Math.max(this.#options.killAfterMs, MIN_CLOSE_GRACE_MS);
      await Promise.race([engine.ended, delay(grace)]);
      if (!engine.gone) {
        this.#kill(engine, { kind: 'close' });
        await Promise.race([engine.ended, delay(EXIT_WAIT_MS)]);
      }
    }
    this.#results.close();
    this.#readerInstance.closeSync();
  }

  /** The running engine, or the one starting; starts one when there is none. */
  #engine(): Promise<Engine> {
    if (this.#closed) return Promise.reject(new Error('The embedded warehouse is closed'));
    if (this.#current?.gone) {
      this.#current = null;
      this.#starting = null;
    }
    if (this.#current) return Promise.resolve(this.#current);
    if (!this.#starting) {
      const starting = this.#start();
      this.#starting = starting;
      // A failed start is not remembered: the next submit tries again.
      starting.catch(() => {
        if (this.#starting === starting) this.#starting = null;
      });
    }
    return this.#starting;
  }

  async #start(): Promise<Engine> {
    const began = performance.now();
    const env: NodeJS.ProcessEnv = { UV_THREADPOOL_SIZE: String(this.#options.threadPoolSize) };
    for (const [key, value] of Object.entries(process.env)) if (ENGINE_ENV.test(key)) env[key] = value;
    const child = fork(ENGINE_MAIN, [], {
      serialization: 'advanced',
      env,
      // None of the API's Node flags (inspector ports, test runner flags).
      execArgv: [],
      // stderr is the API's, so DuckDB's or Node's last words before a crash reach the log.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let markEnded: () => void = () => {};
    const engine: Engine = {
      child,
      pid: child.pid ?? -1,
      pending: new Map(),
      killReason: null,
      poisoned: false,
      gone: false,
      ended: new Promise<void>((resolve) => (markEnded = resolve)),
      onReady: null,
    };
    // Gone only once it has exited AND its channel has closed, so the states it sent just before
    // dying are applied first.
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let disconnected = false;
    const maybeGone = (): void => {
      if (exit && disconnected && !engine.gone) {
        this.#gone(engine, exit.code, exit.signal);
        markEnded();
      }
    };
    child.on('message', (message: unknown) => this.#onMessage(engine, message));
    child.on('disconnect', () => {
      disconnected = true;
      maybeGone();
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      if (!child.connected) disconnected = true;
      maybeGone();
      // The channel closes with the process; should its event never come, do not wait forever.
      setTimeout(() => {
        disconnected = true;
        maybeGone();
      }, 1000).unref();
    });
    child.on('error', (error) => {
      this.#log.error({ err: error, pid: child.pid }, 'engine process error');
      if (child.pid === undefined) {
        // It never started: no exit will come.
        exit = { code: null, signal: null };
        disconnected = true;
        maybeGone();
      }
    });

    const ready = new Promise<void>((resolve, reject) => {
      engine.onReady = (error) => (error ? reject(error) : resolve());
    });
    const timer = setTimeout(() => {
      engine.onReady?.(new Error(`The embedded engine did not start within ${START_TIMEOUT_MS} ms`));
      this.#kill(engine, { kind: 'start' });
    }, START_TIMEOUT_MS);
    try {
      child.send({ type: 'open', options: this.#options.engine } satisfies EngineRequest, (error) => {
        if (error) engine.onReady?.(error);
      });
      await ready;
    } catch (error) {
      // Never leave a half-started engine holding the database file's lock.
      this.#kill(engine, { kind: 'start' });
      await Promise.race([engine.ended, delay(EXIT_WAIT_MS)]);
      this.#log.error({ err: error, pid: engine.pid }, 'the embedded engine could not start');
      throw error;
    } finally {
      clearTimeout(timer);
      engine.onReady = null;
    }
    if (this.#closed || engine.gone) {
      this.#kill(engine, { kind: 'close' });
      await Promise.race([engine.ended, delay(EXIT_WAIT_MS)]);
      throw new Error(this.#closed ? 'The embedded warehouse is closed' : 'The embedded engine exited as it started');
    }
    this.#current = engine;
    this.#log.info({ pid: engine.pid, startMs: Math.round(performance.now() - began) }, 'engine started');
    return engine;
  }

  #onMessage(engine: Engine, message: unknown): void {
    if (!isEngineMessage(message) || engine.gone || engine.poisoned) return;
    switch (message.type) {
      case 'ready':
        engine.onReady?.(null);
        return;
      case 'start-failed':
        engine.onReady?.(new Error(`The embedded engine could not open the warehouse: ${message.message}`));
        return;
      case 'reply': {
        const pending = engine.pending.get(message.id);
        if (!pending) return;
        engine.pending.delete(message.id);
        clearTimeout(pending.timer);
        if (message.error === null) pending.resolve();
        else pending.reject(new Error(message.error));
        return;
      }
      case 'state': {
        const query = this.#queries.get(message.queryId);
        if (!query || query.engine !== engine || isTerminal(query.state.status)) return;
        query.state = message.state;
        if (isTerminal(message.state.status)) this.#settle(message.queryId, query);
        this.#notify(message.queryId);
        return;
      }
      case 'poisoned':
        engine.poisoned = true;
        this.#log.error({ pid: engine.pid, queryId: message.queryId, error: message.message }, 'DuckDB invalidated the engine; replacing it');
        this.#kill(engine, { kind: 'poisoned', queryId: message.queryId, message: message.message });
        return;
    }
  }

  /** One request, answered by the engine, or rejected with EngineGone; a hung engine is killed. */
  #request(engine: Engine, message: WithoutId<Exclude<EngineRequest, { type: 'open' }>>): Promise<void> {
    if (engine.gone || !engine.child.connected) return Promise.reject(new EngineGone('The embedded engine is gone'));
    const id = ++this.#nextRequestId;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        engine.pending.delete(id);
        reject(new EngineGone(`The embedded engine did not answer within ${REQUEST_TIMEOUT_MS} ms`));
        this.#kill(engine, { kind: 'unresponsive' });
      }, REQUEST_TIMEOUT_MS);
      engine.pending.set(id, { resolve, reject, timer });
      const fail = (error: Error): void => {
        clearTimeout(timer);
        engine.pending.delete(id);
        reject(error);
      };
      try {
        engine.child.send({ ...message, id } satisfies EngineRequest, (error) => {
          if (error) fail(new EngineGone(error.message));
        });
      } catch (error) {
        // Not sendable (structured clone refused it): this request fails, the engine is fine.
        fail(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** The hard stop behind a cancel or a timeout: kills the engine if the query is still not over. */
  #hardStop(queryId: string, query: Query, reason: 'cancel' | 'timeout'): void {
    if (isTerminal(query.state.status) || query.engine.gone) return;
    query.stopReason ??= reason;
    this.#log.warn({ queryId, jobId: query.jobId, pid: query.engine.pid, reason }, 'query did not stop in time; killing the engine');
    this.#kill(query.engine, { kind: reason, queryId });
  }

  #kill(engine: Engine, reason: KillReason): void {
    if (engine.gone) return;
    engine.killReason ??= reason;
    engine.child.kill('SIGKILL');
  }

  /** The engine exited: its requests fail, its unfinished queries end, and a fresh one starts. */
  #gone(engine: Engine, code: number | null, signal: NodeJS.Signals | null): void {
    engine.gone = true;
    for (const pending of engine.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new EngineGone('The embedded engine exited'));
    }
    engine.pending.clear();
    engine.onReady?.(new Error(`The embedded engine exited while starting (${signal ?? `exit code ${code}`})`));
    const wasCurrent = this.#current === engine;
    if (wasCurrent) {
      this.#current = null;
      this.#starting = null;
    }
    const ended: string[] = [];
    const endedAt = new Date();
    for (const [queryId, query] of this.#queries) {
      if (query.engine !== engine || isTerminal(query.state.status)) continue;
      query.state = { ...query.state, ...this.#outcome(query, engine, code, signal), endedAt };
      this.#settle(queryId, query);
      ended.push(queryId);
    }
    if (wasCurrent) {
      const reason = engine.killReason?.kind ?? (this.#closed ? 'closed' : 'crash');
      const level = reason === 'crash' ? 'error' : reason === 'closed' || reason === 'close' ? 'info' : 'warn';
      this.#log[level]({ pid: engine.pid, code, signal, reason, queriesEnded: ended.length }, 'engine exited');
    }
    for (const queryId of ended) this.#notify(queryId);
    if (wasCurrent && !this.#closed) {
      this.#engine().catch(() => {}); // logged by #start; the next submit tries again
    }
  }

  /** How a query ends when its engine dies under it. */
  #outcome(query: Query, engine: Engine, code: number | null, signal: NodeJS.Signals | null): Pick<QueryState, 'status' | 'error'> {
    if (query.stopReason) return stoppedState(query.stopReason);
    const reason = engine.killReason ?? (this.#closed ? { kind: 'close' } : null);
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
