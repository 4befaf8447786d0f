import type { Job, JobNotification } from './job.ts';

/**
 * Tells someone outside that a job ended (the completion webhook, notifications/), as the job
 * service sees it: a port, so jobs/ never learns HTTP.
 */
export interface JobNotifier {
  /** The URL as it will be called (canonical), or a BAD_USER_INPUT request error. */
  checkUrl(url: string): string;
  /**
   * Delivers the end of `job` (which has a notification), going on from its record; `record`
   * stores the record after every attempt. Returns at once; never rejects.
   */
  deliver(job: Job, record: (notification: JobNotification) => Promise<void>): void;
  /** Stops delivering; resolves once the records in flight are written. */
  stop(): Promise<void>;
}
