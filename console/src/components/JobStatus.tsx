import { Fragment } from 'react';
import { useMutation, useSubscription } from 'urql';
import { describeError } from '../errors';
import { graphql } from '../gql';
import type { JobStatus as Status, JobStatusSubscription } from '../gql/graphql';
import { ErrorView } from './ErrorView';
import { StatusBadge } from './StatusBadge';

const JobStatusEvents = graphql(`
  subscription JobStatus($id: ID!, $afterSequence: Int) {
    jobStatus(id: $id, afterSequence: $afterSequence) {
      kind
      sequence
      status
      previousStatus
      at
      job {
        id
        isTerminal
        startedAt
        endedAt
        queuePosition
        queueReason
        progress {
          percentage
          rowsProcessed
          totalRowsToProcess
        }
        error {
          code
          sqlState
          message
        }
      }
    }
  }
`);

const CancelJob = graphql(`
  mutation CancelJob($id: ID!) {
    cancelJob(id: $id) {
      job {
        id
        status
      }
    }
  }
`);

type Event = JobStatusSubscription['jobStatus'];
export type EventJob = Event['job'];

/** One state of the job: seen live, or known from the submit answer or an event's previousStatus. */
export interface Step {
  sequence: number;
  status: Status;
  at: string | null;
  source: 'live' | 'submit' | 'previous';
}

export interface Timeline {
  steps: Step[];
  /** The highest sequence applied: an event at or below it is a repeat and is ignored. */
  last: number;
  job: EventJob | null;
}

/**
 * Applies one event; repeats (sequence <= the last seen, e.g. a terminal event delivered twice)
 * change nothing. A PROGRESS or QUEUE_POSITION event of the latest state updates the job only.
 */
export function applyEvent(timeline: Timeline, event: Event): Timeline {
  if (event.kind !== 'TRANSITION') return event.sequence === timeline.last ? { ...timeline, job: event.job } : timeline;
  if (event.sequence <= timeline.last) return timeline;
  const steps = timeline.steps.filter((step) => step.sequence < event.sequence);
  const before = event.sequence - 1;
  if (event.previousStatus && before >= 1 && !steps.some((step) => step.sequence === before)) {
    steps.push({ sequence: before, status: event.previousStatus, at: null, source: 'previous' });
  }
  steps.push({ sequence: event.sequence, status: event.status, at: event.at, source: 'live' });
  steps.sort((a, b) => a.sequence - b.sequence);
  return { steps, last: event.sequence, job: event.job };
}

/**
 * The job's states, live over the `jobStatus` subscription, starting from what the submit answered.
 * It asks for every transition after the seed's last (`afterSequence`; 0: the whole history from
 * QUEUED 1). After a dropped socket, graphql-ws subscribes again with the last sequence seen
 * (client.ts, subscribeResuming), so the server sends the ones missed meanwhile: no gap. A job
 * from before the server kept histories starts at its current state; its earlier states show as
 * before (from `previousStatus`, or as states not seen).
 */
export function useJobTimeline(id: string, seed: Timeline) {
  const [result] = useSubscription(
    { query: JobStatusEvents, variables: { id, afterSequence: seed.last } },
    (previous: Timeline | undefined, data) => applyEvent(previous ?? seed, data.jobStatus),
  );
  return { timeline: result.data ?? seed, error: result.error };
}

const SOURCE_NOTE: Record<Step['source'], string | null> = {
  live: null,
  submit: 'as submitted',
  previous: 'before subscribing',
};

const time = (iso: string) =>
  new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, hour12: false });

/** The live view: the current status (announced), every state by sequence, progress, and Cancel. */
export function JobStatus({ id, timeline }: { id: string; timeline: Timeline }) {
  const current = timeline.steps.at(-1)?.status ?? null;
  const terminal = timeline.job?.isTerminal ?? false;
  const running = current === 'RUNNING';
  // Both come as events (PROGRESS, QUEUE_POSITION): nothing is polled.
  const progress = running ? (timeline.job?.progress ?? null) : null;
  const place = current === 'QUEUED' ? (timeline.job?.queuePosition ?? null) : null;
  const [cancellation, cancel] = useMutation(CancelJob);
  const started = timeline.job?.startedAt;
  const ended = timeline.job?.endedAt;
  const took = started && ended ? `ran ${((Date.parse(ended) - Date.parse(started)) / 1000).toFixed(3)} s` : null;

  return (
    <div className="job-status">
      <div className="status-line">
        <p role="status" aria-live="polite" className="current">
          Status: {current ? <StatusBadge status={current} /> : 'waiting for the first event…'}
        </p>
        {took && <span className="muted">{took}</span>}
        {place !== null && (
          <span className="muted queue-position">
            #{place} in line{timeline.job?.queueReason === 'PRINCIPAL_LIMIT' ? ' (your running jobs are at their limit)' : ''}
          </span>
        )}
        {!terminal && current && (
          <button
            type="button"
            className="danger"
            disabled={current === 'ABORTING' || cancellation.fetching}
            onClick={() => void cancel({ id })}
          >
            {current === 'ABORTING' ? 'Cancelling…' : 'Cancel job'}
          </button>
        )}
      </div>
      <ol className="timeline" aria-label="Status changes">
        {timeline.steps.map((step, i) => {
          const missed = step.sequence - (timeline.steps[i - 1]?.sequence ?? 0) - 1;
          return (
            <Fragment key={step.sequence}>
              {missed > 0 && (
                <li className="step missed">
                  {missed} state{missed > 1 ? 's' : ''} not seen
                </li>
              )}
              <li className={`step step-${step.source}`} data-sequence={step.sequence}>
                <span className="seq">#{step.sequence}</span> <StatusBadge status={step.status} />
                {step.at && (
                  <time dateTime={step.at} className="at">
                    {time(step.at)}
                  </time>
                )}
                {SOURCE_NOTE[step.source] && <span className="note">({SOURCE_NOTE[step.source]})</span>}
              </li>
            </Fragment>
          );
        })}
      </ol>
      {progress && (progress.percentage !== null || progress.rowsProcessed !== null) && (
        <p className="progress">
          {progress.percentage !== null && (
            <label>
              Progress <progress max={100} value={progress.percentage} /> {Math.round(progress.percentage)}%
            </label>
          )}
          {progress.rowsProcessed !== null && (
            <span className="rows">
              {' '}
              {progress.rowsProcessed.toLocaleString()}
              {progress.totalRowsToProcess !== null ? ` of ${progress.totalRowsToProcess.toLocaleString()}` : ''} rows
            </span>
          )}
        </p>
      )}
      {cancellation.error && <ErrorView title="Cancel failed" error={describeError(cancellation.error)} />}
    </div>
  );
}
