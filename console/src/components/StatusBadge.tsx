import type { JobStatus } from '../gql/graphql';

/** A job status as Snowflake spells it, coloured by what it means (styles.css). */
export function StatusBadge({ status }: { status: JobStatus }) {
  return <span className={`status status-${status.toLowerCase()}`}>{status}</span>;
}

/** Every status, in the order the history filter offers them (the Record makes the list complete). */
const LABELS: Record<JobStatus, true> = {
  QUEUED: true,
  RUNNING: true,
  SUCCESS: true,
  FAILED_WITH_ERROR: true,
  ABORTING: true,
  ABORTED: true,
  FAILED_WITH_INCIDENT: true,
  DISCONNECTED: true,
  RESUMING_WAREHOUSE: true,
  QUEUED_REPARING_WAREHOUSE: true,
  BLOCKED: true,
  NO_DATA: true,
  RESTARTED: true,
};
export const JOB_STATUSES = Object.keys(LABELS) as JobStatus[];
