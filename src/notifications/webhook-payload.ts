import type { Job } from '../core/job.ts';
import type { JobStatus } from '../core/status.ts';

/**
 * The body of a `job.ended` delivery: what a receiver needs to act (which job, how it ended,
 * until when its result can be read) and nothing it does not: no SQL text, no bindings, no
 * owner. The full job is one `job(id:)` query away, with the receiver's own credentials.
 */
export interface JobEndedPayload {
  event: 'job.ended';
  job: {
    id: string;
    status: JobStatus;
    tag: string | null;
    queryId: string | null;
    submittedAt: string;
    startedAt: string | null;
    endedAt: string | null;
    error: { code: string; sqlState: string | null; message: string } | null;
    dml: { rowsInserted: number; rowsUpdated: number; rowsDeleted: number } | null;
    resultExpiresAt: string | null;
  };
}

export function jobEndedPayload(job: Job): JobEndedPayload {
  const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
  return {
    event: 'job.ended',
    job: {
      id: job.id,
      status: job.status,
      tag: job.tag,
      queryId: job.queryId,
      submittedAt: job.submittedAt.toISOString(),
      startedAt: iso(job.startedAt),
      endedAt: iso(job.endedAt),
      error: job.error ? { code: job.error.code, sqlState: job.error.sqlState, message: job.error.message } : null,
      dml: job.dml ? { ...job.dml } : null,
      resultExpiresAt: iso(job.resultExpiresAt),
    },
  };
}
