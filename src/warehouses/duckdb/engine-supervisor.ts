import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../core/logger.ts';
import type { QueryState } from '../../core/results.ts';
import { type EngineOptions, type EngineRequest, isEngineMessage } from './engine-protocol.ts';

const ENGINE_MAIN = fileURLToPath(new URL('./engine-process.ts', import.meta.url));

/** How long an engine may take to open its instance (a large WAL to replay) before it is killed. */
const START_TIMEOUT_MS = 30_000;
/** An engine that does not answer a request in this time is taken for hung and killed. */
const REQUEST_TIMEOUT_MS = 10_000;
/** After a SIGKILL, how long to wait for the exit before giving up on seeing it. */
const EXIT_WAIT_MS = 5_000;
/** The environment the engine gets: none of the API's secrets, only what Node and DuckDB use. */
const ENGINE_ENV = /^(PATH|HOME|TZ|LANG|LC_[A-Z_]+|TMPDIR|TMP|TEMP|SYSTEMROOT)$/;

/** Why the API process killed an engine (none: it died on its own); `start`: it never got ready. */
export type KillReason =
  | { kind: 'cancel' | 'timeout'; queryId: string }
  | { kind: 'poisoned'; queryId: string; message: string }
  | { kind: 'unresponsive' | 'start' | 'close' };

/** The request was not answered because its engine is gone (or going). */
export class EngineGone extends Error {}

interface Pending {
  resolve: () => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** One engine process, from its fork to its exit. */
export interface Engine {
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

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
/** A request to a running engine (`open` is the supervisor's own). */
export type EngineCall = WithoutId<Exclude<EngineRequest, { type: 'open' }>>;

export interface EngineSupervisorOptions {
  engine: EngineOptions;
  /** libuv's pool in the engine: each running query holds one of its threads for its whole run. */
  threadPoolSize: number;
  logger: Logger;
  /** A query's state, as an engine reported it (in order). */
  onState(engine: Engine, queryId: string, state: QueryState): void;
  /**
   * An engine is gone (exited and its channel drained; its requests already failed): its unfinished
   * queries end. `wasCurrent`: it was the engine in use, which a fresh one replaces after this returns.
   */
  onGone(engine: Engine, code: number | null, signal: NodeJS.Signals | null, wasCurrent: boolean): void;
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * The engine process's supervision, in the API process: forks engine-process.ts, opens it, sends it
 * requests over IPC (each answered or failed with EngineGone, a hung engine killed), kills it when
 * told to, and starts a fresh one when the one in use is gone. What its queries become is the
 * warehouse's business (EngineWarehouse), told through `onState` and `onGone`.
 */
export class EngineSupervisor {
  readonly #options: EngineSupervisorOptions;
  readonly #log: Logger;
  #current: Engine | null = null;
  #starting: Promise<Engine> | null = null;
  #nextRequestId = 0;
  #closed = false;

  constructor(options: EngineSupervisorOptions) {
    this.#options = options;
    this.#log = options.logger;
  }

  /** The engine in use, while one is up. */
  get current(): Engine | null {
    return this.#current;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The running engine, or the one starting; starts one when there is none. */
  engine(): Promise<Engine> {
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

  /** One request, answered by the engine, or rejected with EngineGone; a hung engine is killed. */
  request(engine: Engine, message: EngineCall): Promise<void> {
    if (engine.gone || !engine.child.connected) return Promise.reject(new EngineGone('The embedded engine is gone'));
    const id = ++this.#nextRequestId;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        engine.pending.delete(id);
        reject(new EngineGone(`The embedded engine did not answer within ${REQUEST_TIMEOUT_MS} ms`));
        this.kill(engine, { kind: 'unresponsive' });
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

  kill(engine: Engine, reason: KillReason): void {
    if (engine.gone) return;
    engine.killReason ??= reason;
    engine.child.kill('SIGKILL');
  }

  /** Asks the engine to close (it interrupts its queries), waits up to `graceMs`, then kills it. */
  async close(graceMs: number): Promise<void> {
    this.#closed = true;
    const engine = this.#current ?? (await this.#starting?.catch(() => null)) ?? null;
    if (engine && !engine.gone) {
      this.request(engine, { type: 'close' }).catch(() => {});
      await Promise.race([engine.ended, delay(graceMs)]);
      if (!engine.gone) {
        this.kill(engine, { kind: 'close' });
        await Promise.race([engine.ended, delay(EXIT_WAIT_MS)]);
      }
    }
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
      // A session and process group of its own: Ctrl-C in a terminal signals the whole foreground
      // group, and the engine must stop only when this process says so (close, or a kill), so that
      // SIGINT drains like SIGTERM. It still never outlives this process: it watches the channel.
      detached: true,
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
      this.kill(engine, { kind: 'start' });
    }, START_TIMEOUT_MS);
    try {
      child.send({ type: 'open', options: this.#options.engine } satisfies EngineRequest, (error) => {
        if (error) engine.onReady?.(error);
      });
      await ready;
    } catch (error) {
      // Never leave a half-started engine holding the database file's lock.
      this.kill(engine, { kind: 'start' });
      await Promise.race([engine.ended, delay(EXIT_WAIT_MS)]);
      this.#log.error({ err: error, pid: engine.pid }, 'the embedded engine could not start');
      throw error;
    } finally {
      clearTimeout(timer);
      engine.onReady = null;
    }
    if (this.#closed || engine.gone) {
      this.kill(engine, { kind: 'close' });
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
      case 'state':
        this.#options.onState(engine, message.queryId, message.state);
        return;
      case 'poisoned':
        engine.poisoned = true;
        this.#log.error({ pid: engine.pid, queryId: message.queryId, error: message.message }, 'DuckDB invalidated the engine; replacing it');
        this.kill(engine, { kind: 'poisoned', queryId: message.queryId, message: message.message });
        return;
    }
  }

  /** The engine exited: its requests fail, its queries end (onGone), and a fresh one starts. */
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
    this.#options.onGone(engine, code, signal, wasCurrent);
    if (wasCurrent && !this.#closed) {
      this.engine().catch(() => {}); // logged by #start; the next submit tries again
    }
  }
}
