/**
 * A PostgreSQL cluster of a test's own, made with `initdb` in a temporary directory and listening
 * on loopback at a port of its own, so that a test may stop it (`pg_ctl -m immediate`, as a crash
 * or a failover does) and start it again. As root, PostgreSQL's tools run as the `postgres` user.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PrivatePostgres {
  /** Connection string of its `postgres` database (trust authentication, loopback only). */
  url: string;
  port: number;
  /** Stops it at once, as a crash does: no checkpoint, connections cut. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  remove(): Promise<void>;
}

/**
 * Where a program is: on PATH, or where Debian puts it (`runuser` in /usr/sbin, PostgreSQL's server
 * tools in /usr/lib/postgresql/<version>/bin, newest first), for a CI whose PATH has neither.
 */
function locate(name: string): string {
  const versions = fs.existsSync('/usr/lib/postgresql')
    ? fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)).map((v) => `/usr/lib/postgresql/${v}/bin`)
    : [];
  const dirs = [...(process.env['PATH'] ?? '').split(path.delimiter), '/usr/sbin', '/sbin', '/usr/local/bin', ...versions];
  const found = dirs.map((dir) => path.join(dir, name)).find((file) => fs.existsSync(file));
  if (!found) throw new Error(`${name} was not found on PATH or in ${dirs.slice(-versions.length - 3).join(', ')}`);
  return found;
}

/** Runs a PostgreSQL tool, as `postgres` when this process is root (initdb refuses root). */
async function tool(name: string, args: string[]): Promise<void> {
  const program = locate(name);
  const asRoot = process.getuid?.() === 0;
  const [file, argv] = asRoot ? [locate('runuser'), ['-u', 'postgres', '--', program, ...args]] : [program, args];
  await run(file, argv, { timeout: 60_000 });
}

export async function startPrivatePostgres(port: number): Promise<PrivatePostgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobql-pg-'));
  const data = path.join(dir, 'data');
  if (process.getuid?.() === 0) await run(locate('chown'), ['postgres:postgres', dir]);
  fs.chmodSync(dir, 0o700);
  try {
    await tool('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync']);
  } catch (cause) {
    throw new Error(`initdb failed (PostgreSQL's server tools must be installed): ${(cause as Error).message}`, { cause });
  }
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off`;
  const start = (): Promise<void> => tool('pg_ctl', ['-D', data, '-o', options, '-l', path.join(dir, 'log'), '-w', 'start']);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    kill: () => tool('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']),
    start,
    async remove() {
      await tool('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
