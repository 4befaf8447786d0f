import type snowflake from 'snowflake-sdk';
import type { Logger } from '../../core/logger.ts';
import { SnowflakeClient } from './snowflake-client.ts';

/** Identities with a session open at once; past it, the least recently used one's is let go. */
export const MAX_IDENTITY_SESSIONS = 64;

/**
 * One SnowflakeClient (a session, kept alive and logged in again when it dies) per Snowflake
 * identity principals run as (Principal.runAs: a named connection of connections.toml), opened on
 * first use, plus the service identity's (`null`). Snowflake decides what each identity may read:
 * its grants, and RESULT_SCAN and query history by user. Letting a session go does not log it out,
 * so queries it started keep running; the next use logs in again.
 */
export class SnowflakeIdentities {
  readonly #service: SnowflakeClient;
  readonly #options: ReadonlyMap<string, snowflake.ConnectionOptions>;
  readonly #log: Logger;
  /** Open identities, least recently used first. */
  readonly #clients = new Map<string, SnowflakeClient>();

  constructor(service: SnowflakeClient, options: ReadonlyMap<string, snowflake.ConnectionOptions>, log: Logger) {
    this.#service = service;
    this.#options = options;
    this.#log = log;
  }

  /** Whether principals may run as `name`: a connection of connections.toml. */
  has(name: string): boolean {
    return this.#options.has(name);
  }

  /** The client of an identity; `null` is the service identity's. */
  client(name: string | null): SnowflakeClient {
    if (name === null) return this.#service;
    const open = this.#clients.get(name);
    if (open) {
      this.#clients.delete(name);
      this.#clients.set(name, open);
      return open;
    }
    const options = this.#options.get(name);
    if (!options) throw new Error(`No Snowflake connection named ${JSON.stringify(name)} in connections.toml`);
    const client = new SnowflakeClient(options, this.#log.child({ identity: name }));
    this.#clients.set(name, client);
    if (this.#clients.size > MAX_IDENTITY_SESSIONS) {
      const [oldest, idle] = this.#clients.entries().next().value!;
      this.#clients.delete(oldest);
      void idle.close();
    }
    return client;
  }

  async close(): Promise<void> {
    const all = [this.#service, ...this.#clients.values()];
    this.#clients.clear();
    await Promise.allSettled(all.map((client) => client.close()));
  }
}
