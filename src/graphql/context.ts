import type { IncomingMessage } from 'node:http';
import type { Principal } from '../auth/principal.ts';
import type { Config } from '../config.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { JobService } from '../jobs/job-service.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Warehouse } from '../warehouses/warehouse.ts';

/** What every resolver sees: the server's services, and who is asking. */
export interface GraphQLContext {
  principal: Principal;
  jobs: JobService;
  warehouse: Warehouse;
  bus: EventBus;
  limits: Config['limits'];
  /** Null when metrics are off (JOBQL_METRICS=false). */
  metrics: Metrics | null;
}

/** What yoga receives from node:http, and from the WebSocket path (with its principal). */
export type ServerContext = {
  req?: IncomingMessage;
  principal?: Principal;
};
