/**
 * The embedded engine's process, as tests see it: its pid (through the warehouse of an in-process
 * test server, or the `engine started` log line of a spawned one), whether it lives, its CPU time.
 * Linux: these read /proc.
 */
import fs from 'node:fs';
import { EngineWarehouse } from '../../src/warehouses/duckdb/engine-warehouse.ts';
import type { TestServer } from './server.ts';
import { WaitForTimeout, waitFor } from './wait-for.ts';

export function engineOf(server: TestServer): EngineWarehouse {
  const warehouse = server.app.warehouse;
  if (!(warehouse instanceof EngineWarehouse)) throw new Error(`not the embedded warehouse: ${warehouse.name}`);
  return warehouse;
}

export function enginePid(server: TestServer): number {
  const pid = engineOf(server).enginePid;
  if (pid === null) throw new Error('no engine process is up');
  return pid;
}

/** Waits until an engine other than `previous` is up, and returns its pid. */
export async function nextEnginePid(server: TestServer, previous: number, timeoutMs = 10_000): Promise<number> {
  return waitFor(
    () => {
      const pid = engineOf(server).enginePid;
      return pid !== null && pid !== previous ? pid : null;
    },
    { timeoutMs, intervalMs: 10, what: `a fresh engine (other than ${previous})` },
  );
}

/** The pids an `engine started` log line names, in order (a spawned server logs them). */
export function enginePidsInLog(output: string): number[] {
  return [...output.matchAll(/\{[^\n]*"msg":"engine started"[^\n]*\}/g)].map((m) => (JSON.parse(m[0]) as { pid: number }).pid);
}

/** Whether a process runs: a zombie (exited, not yet reaped by whoever adopted it) does not. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Whether `pid` is gone within `timeoutMs` (false if it still lives then). */
export async function waitUntilDead(pid: number, timeoutMs: number): Promise<boolean> {
  try {
    return await waitFor(() => !isAlive(pid), { timeoutMs, what: `process ${pid} to die` });
  } catch (error) {
    if (error instanceof WaitForTimeout) return false;
    throw error;
  }
}

/** CPU time (user + system) a process used so far, in ms (USER_HZ is 100 on Linux). */
export function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
