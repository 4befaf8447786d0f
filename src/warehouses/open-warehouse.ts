import fs from 'node:fs';
import path from 'node:path';
import snowflake from 'snowflake-sdk';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { ParquetResultStore } from '../results/parquet-result-store.ts';
import { DuckDBWarehouse } from './duckdb/duckdb-warehouse.ts';
import { openHardenedInstance } from './duckdb/hardened-instance.ts';
import { SnowflakeClient } from './snowflake/snowflake-client.ts';
import { SnowflakeWarehouse } from './snowflake/snowflake-warehouse.ts';
import type { Warehouse } from './warehouse.ts';

export interface OpenedWarehouse {
  warehouse: Warehouse;
  /** Closes the warehouse and whatever it holds (the embedded engine, its result store). */
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
  // The engine writes and reads results itself, so their directory is one it may use.
  const instance = await openHardenedInstance({
    ...config.duckdb,
    allowedDirs: [...config.duckdb.allowedDirs, resultsDir],
  });
  const results = new ParquetResultStore(resultsDir, instance);
  const warehouse = new DuckDBWarehouse(instance, results, {
    maxRows: config.resultMaxRows,
    maxBytes: config.resultMaxBytes,
  });
  return {
    warehouse,
    async close() {
      await warehouse.close();
      results.close();
    },
  };
}
