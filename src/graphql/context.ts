import type { Config } from '../config.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { JobService } from '../jobs/job-service.ts';
import type { Warehouse } from '../warehouses/warehouse.ts';

/** What every resolver sees. Built once per server; no per-request state yet. */
export interface GraphQLContext {
  jobs: JobService;
  warehouse: Warehouse;
  bus: EventBus;
  limits: Config['limits'];
}
