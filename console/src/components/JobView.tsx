import { useEffect, useId, useMemo, useRef } from 'react';
import { useQuery } from 'urql';
import { describeError } from '../errors';
import { graphql } from '../gql';
import type { JobStatus as Status } from '../gql/graphql';
import { Downloads } from './Downloads';
import { ErrorView } from './ErrorView';
import { JobStatus, type Timeline, useJobTimeline } from './JobStatus';
import { ResultGrid } from './ResultGrid';

const JobDetails = graphql(`
  query JobDetails($id: ID!) {
    job(id: $id) {
      id
      queryText
      tag
      submittedAt
      statementCount
      timeoutSeconds
    }
  }
`);

/** What submitQuery answered, the first state the console knows of a job it submitted. */
export interface SubmittedJob {
  id: string;
  status: Status;
  submittedAt: string;
}

/** A submitted job's first state is QUEUED, sequence 1; a job picked from the history starts empty. */
function seedOf(submitted: SubmittedJob | null): Timeline {
  const steps =
    submitted?.status === 'QUEUED' ? [{ sequence: 1, status: submitted.status, at: submitted.submittedAt, source: 'submit' as const }] : [];
  return { steps, last: 0, job: null };
}

/** One job: what it runs, its live status, its error, or its result and downloads. */
export function JobView({ id, submitted, onSettled }: { id: string; submitted: SubmittedJob | null; onSettled(): void }) {
  const headingId = useId();
  const [details] = useQuery({ query: JobDetails, variables: { id } });
  const seed = useMemo(() => seedOf(submitted), [submitted]);
  const { timeline, error } = useJobTimeline(id, seed);
  const job = timeline.job;
  const status = timeline.steps.at(-1)?.status;
  const terminal = job?.isTerminal ?? false;
  // Once per job: the history refreshes when the job it shows ends.
  const settled = useRef(onSettled);
  settled.current = onSettled;
  useEffect(() => {
    if (terminal) settled.current();
  }, [terminal]);
  const info = details.data?.job;

  return (
    <section className="job" aria-labelledby={headingId}>
      <header className="job-head">
        <h2 id={headingId}>
          Job <code>{id}</code>
        </h2>
        {info && (
          <p className="job-meta">
            {info.tag && <span className="tag">{info.tag}</span>}
            <span>submitted {new Date(info.submittedAt).toLocaleString(undefined, { hour12: false })}</span>
            <span>
              {info.statementCount} statement{info.statementCount === 1 ? '' : 's'}
            </span>
            {info.timeoutSeconds !== null && <span>timeout {info.timeoutSeconds} s</span>}
          </p>
        )}
      </header>
      {info && !submitted && (
        <details className="job-sql">
          <summary>SQL</summary>
          <pre>{info.queryText}</pre>
        </details>
      )}
      {details.data && !info && <ErrorView error={{ code: 'NOT_FOUND', message: `No job ${id} (or it is another principal's).` }} />}
      {details.error && <ErrorView error={describeError(details.error)} />}
      <JobStatus id={id} timeline={timeline} />
      {error && <ErrorView title="The live status stopped" error={describeError(error)} />}
      {job?.error && <ErrorView title={status === 'ABORTED' ? 'The job was cancelled' : 'The job failed'} error={job.error} />}
      {status === 'SUCCESS' && <Downloads jobId={id} />}
      {status === 'SUCCESS' && <ResultGrid jobId={id} />}
    </section>
  );
}
