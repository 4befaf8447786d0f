/**
 * Starts the benchmark's processes: servers under test and load generators, each its own Node
 * process with an IPC channel (bench/lib/rpc.ts), so the load generator never shares an event loop
 * with what it measures.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { isChildMessage } from './rpc.ts';

export interface Launched<Info> {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** What the child sent with `ready()`. */
  readonly info: Info;
  /** Calls a method of the child; with `timeoutMs`, fails when no answer comes in time. */
  call<T>(method: string, params?: unknown, timeoutMs?: number): Promise<T>;
  /** Asks the child to stop (its `stop` method), then kills it if it has not exited in time. */
  stop(): Promise<void>;
  /** The last lines the process wrote, for error messages. */
  output(): string;
}

export interface LaunchOptions {
  env?: Record<string, string>;
  execArgv?: string[];
  args?: string[];
  /** How long to wait for `ready` (ms). */
  readyTimeoutMs?: number;
}

const OUTPUT_KEEP = 20_000;

/** Forks `script` (a path relative to bench/) and waits for its `ready` message. */
export async function launch<Info>(name: string, script: string, options: LaunchOptions = {}): Promise<Launched<Info>> {
  const file = fileURLToPath(new URL(`../${script}`, import.meta.url));
  const child = fork(file, options.args ?? [], {
    env: { ...process.env, ...options.env },
    execArgv: options.execArgv ?? [],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'json',
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-OUTPUT_KEEP);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = once(child, 'exit');
  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; method: string }>();
  let readyResolve: (info: unknown) => void = () => {};
  const readyPromise = new Promise<unknown>((resolve) => (readyResolve = resolve));
  child.on('message', (message: unknown) => {
    if (!isChildMessage(message)) return;
    if (message.kind === 'ready') {
      readyResolve(message.info);
      return;
    }
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.ok) waiter.resolve(message.value);
    else waiter.reject(new Error(`${name}.${waiter.method}: ${message.error}`));
  });
  void exited.then(([code, signal]) => {
    for (const waiter of pending.values()) {
      waiter.reject(new Error(`${name} exited (${String(code ?? signal)}) during ${waiter.method}:\n${output.slice(-4000)}`));
    }
    pending.clear();
  });

  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const info = await Promise.race([
    readyPromise,
    exited.then(([code, signal]) => {
      throw new Error(`${name} exited (${String(code ?? signal)}) before it was ready:\n${output.slice(-4000)}`);
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${name} not ready within ${timeoutMs} ms:\n${output.slice(-4000)}`)), timeoutMs);
    }),
  ])
    .catch((error: unknown) => {
      child.kill('SIGKILL'); // never leave a half-started process behind
      throw error;
    })
    .finally(() => clearTimeout(timer));

  let stopped: Promise<void> | null = null;
  return {
    name,
    child,
    pid: child.pid ?? -1,
    info: info as Info,
    call<T>(method: string, params?: unknown, timeoutMs?: number): Promise<T> {
      if (child.exitCode !== null || child.signalCode !== null) {
        return Promise.reject(new Error(`${name} has exited; cannot call ${method}`));
      }
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer =
          timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                pending.delete(id);
                reject(new Error(`${name}.${method}: no answer in ${timeoutMs} ms (the process is busy or stuck)`));
              }, timeoutMs);
        const settle = (): void => clearTimeout(timer);
        pending.set(id, {
          resolve: (value) => {
            settle();
            resolve(value as T);
          },
          reject: (error) => {
            settle();
            reject(error);
          },
          method,
        });
        child.send({ kind: 'call', id, method, params: params ?? null });
      });
    },
    stop(): Promise<void> {
      stopped ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const id = nextId++;
        pending.set(id, { resolve: () => {}, reject: () => {}, method: 'stop' });
        child.send({ kind: 'call', id, method: 'stop', params: null }, (error) => {
          if (error) child.kill('SIGKILL');
        });
        const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(killer);
      })();
      return stopped;
    },
    output: () => output,
  };
}

export interface MainServer {
  child: ChildProcess;
  /** http://host:port/graphql */
  url: string;
  stop(): Promise<void>;
}

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/** `node src/main.ts`, exactly as `npm start` runs it; resolves once it logs its URL. */
export async function startMain(env: Record<string, string>): Promise<MainServer> {
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = once(child, 'exit');
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-OUTPUT_KEEP);
      const match = /"url":"(http:\/\/[^"]+\/graphql)"/.exec(output);
      if (match?.[1]) resolve(match[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => reject(new Error(`server exited before listening:\n${output}`)));
  });
  return {
    child,
    url,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
