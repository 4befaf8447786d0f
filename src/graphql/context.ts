import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.ts';
import type { Clock } from '../core/clock.ts';
import type { JobStatusStreamObserver, ResultRowsObserver } from '../core/observers.ts';
import type { Principal } from '../core/principal.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { DownloadLinks } from '../http/signed-links.ts';
import type { JobService } from '../jobs/job-service.ts';
import type { Warehouse } from '../warehouses/warehouse.ts';

/** What the GraphQL layer reports (observability/metrics.ts implements it). */
export type GraphQLObserver = JobStatusStreamObserver & ResultRowsObserver;

/** The server's services, the same for every operation. */
export interface GraphQLServices {
  jobs: JobService;
  warehouse: Warehouse;
  bus: EventBus;
  limits: Config['limits'];
  clock: Clock;
  /** Signs the links of `Job.downloads` (the download route verifies them with the same keys). */
  downloadLinks: DownloadLinks;
  /** Null when metrics are off (JOBQL_METRICS=false). */
  observer: GraphQLObserver | null;
}

/** What every resolver sees: the server's services, and who is asking. */
export interface GraphQLContext extends GraphQLServices {
  principal: Principal;
}

/** What yoga receives from node:http, and from the WebSocket path (with its principal). */
export type ServerContext = {
  req?: IncomingMessage;
  principal?: Principal;
};
