import type { JobStatusEvent } from './job.ts';
import type { DownloadFormat } from './results.ts';

/**
 * What the protocol layers report, for metrics. observability/metrics.ts implements these; the
 * layers that report know only the interfaces, so neither imports the other. None may throw.
 */

/** What a `jobStatus` stream reports: open streams, and how late a terminal event reached its subscriber. */
export interface JobStatusStreamObserver {
  streamOpened(): void;
  streamClosed(): void;
  /** A terminal event that arrived on the bus while the stream was open, as it is handed over. */
  terminalEventDelivered(event: JobStatusEvent): void;
}

/** Result rows handed to clients, by how ("graphql": the rows of `Job.result` pages). */
export interface ResultRowsObserver {
  rowsServed(via: 'graphql', rows: number): void;
}

/** What a download reports. */
export interface DownloadObserver {
  downloadStarted(format: DownloadFormat): void;
  /** Body bytes handed to the response, as they go. */
  bytesServed(format: DownloadFormat, bytes: number): void;
}
