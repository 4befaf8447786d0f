import { gql, type TypedDocumentNode } from '@apollo/client';

/** jobql's statuses that never change again (`Job.isTerminal`). */
export const TERMINAL: ReadonlySet<JobStatus> = new Set<JobStatus>(['SUCCESS', 'FAILED_WITH_ERROR', 'FAILED_WITH_INCIDENT', 'ABORTED', 'DISCONNECTED']);

export type JobStatus =
  | 'QUEUED' | 'RUNNING' | 'SUCCESS' | 'FAILED_WITH_ERROR' | 'FAILED_WITH_INCIDENT' | 'ABORTING' | 'ABORTED'
  | 'DISCONNECTED' | 'RESUMING_WAREHOUSE' | 'QUEUED_REPARING_WAREHOUSE' | 'RESTARTED' | 'BLOCKED' | 'NO_DATA';

export interface JobError {
  code: string;
  message: string;
}

export interface JobSummary {
  id: string;
  status: JobStatus;
  /** While QUEUED: 1 is dispatched next. */
  queuePosition: number | null;
  progress: { percentage: number | null } | null;
  error: JobError | null;
}

export const SubmitQuery: TypedDocumentNode<{ submitQuery: { job: JobSummary } }, { sql: string }> = gql`
  mutation SubmitQuery($sql: String!) {
    submitQuery(input: { sql: $sql }) {
      job { id status queuePosition progress { percentage } error { code message } }
    }
  }
`;

export const CancelJob: TypedDocumentNode<{ cancelJob: { job: JobSummary } }, { id: string }> = gql`
  mutation CancelJob($id: ID!) {
    cancelJob(id: $id) {
      job { id status queuePosition progress { percentage } error { code message } }
    }
  }
`;

export interface JobStatusEvent {
  /** TRANSITION moves `sequence`; PROGRESS and QUEUE_POSITION repeat it with news of the same state. */
  kind: 'TRANSITION' | 'PROGRESS' | 'QUEUE_POSITION';
  sequence: number;
  status: JobStatus;
  previousStatus: JobStatus | null;
  job: JobSummary;
}

/**
 * Selects `job { id status }` too, so every event also updates the cached `Job:<id>`.
 * `afterSequence`: the last sequence seen; 0 for the whole history from QUEUED 1. The client moves
 * it on as events arrive, so a resubscription after a dropped socket resumes (client.ts).
 */
export const JobStatusSubscription: TypedDocumentNode<{ jobStatus: JobStatusEvent }, { id: string; afterSequence: number }> = gql`
  subscription JobStatus($id: ID!, $afterSequence: Int) {
    jobStatus(id: $id, afterSequence: $afterSequence) {
      kind
      sequence
      status
      previousStatus
      job { id status queuePosition progress { percentage } error { code message } }
    }
  }
`;

export interface ResultPage {
  id: string;
  rows: unknown[][];
  totalRows: number;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export const ResultPageQuery: TypedDocumentNode<
  { job: { id: string; result: ResultPage | null } | null },
  { id: string; first: number; after?: string | null }
> = gql`
  query ResultPage($id: ID!, $first: Int!, $after: String) {
    job(id: $id) {
      id
      result(first: $first, after: $after) {
        id
        rows
        totalRows
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`;
