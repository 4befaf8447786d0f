import fs from 'node:fs';
import path from 'node:path';
import snowflake from 'snowflake-sdk';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { EngineWarehouse } from './duckdb/engine-warehouse.ts';
import { SnowflakeClient } from './snowflake/snowflake-client.ts';
import { SnowflakeWarehouse } from './snowflake/snowflake-warehouse.ts';
import type { Warehouse } from './warehouse.ts';

export interface OpenedWarehouse {
  warehouse: Warehouse;
  /** Closes the warehouse and whatever it holds (the engine process, the result store). */
  close(): Promise<void>;
}

/** The warehouse `JOBQL_WAREHOUSE` names, connected and ready. */
export async function openWarehouse(config: Config, logger: Logger): Promise<OpenedWarehouse> {
  if (config.snowflake) {
    const { options, source } = config.snowflake;
    // The driver logs through its own logger; jobql logs what matters through pino.
    snowflake.configure({ logLevel: 'OFF' } as snowflake.ConfigureOptions);
    const log = logger.child({ component: 'snowflake' });
    const client = new SnowflakeClient(options, log);
    log.info({ source }, 'connecting to Snowflake');
    await client.connect(); // wrong credentials stop the start, with the driver's message
    const warehouse = new SnowflakeWarehouse(client, log);
    return { warehouse, close: () => warehouse.close() };
  }
  const resultsDir = path.join(config.dataDir, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  // DuckDB runs user SQL in a process of its own; this process only reads the results it wrote.
  const { path: file, allowedDirs, memoryLimit, threads, killAfterMs } = config.duckdb;
  const warehouse = await EngineWarehouse.open({
    engine: {
      hardening: { path: file, allowedDirs, memoryLimit, threads },
      resultsDir,
      caps: { maxRows: config.resultMaxRows, maxBytes: config.resultMaxBytes },
    },
    killAfterMs,
    // One libuv thread per running query for its whole run, and some to spare for file work.
    threadPoolSize: config.limits.maxConcurrentJobs + 4,
    logger: logger.child({ component: 'engine' }),
  });
  return { warehouse, close: () => warehouse.close() };
}
