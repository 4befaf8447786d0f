import { useEffect, useId, useRef, useState } from 'react';
import { useQuery } from 'urql';
import { describeError } from '../errors';
import { graphql } from '../gql';
import type { JobFilter, JobStatus } from '../gql/graphql';
import { ErrorView } from './ErrorView';
import { JOB_STATUSES, StatusBadge } from './StatusBadge';

const JobHistoryPage = graphql(`
  query JobHistory($first: Int!, $after: String, $filter: JobFilter) {
    jobs(first: $first, after: $after, filter: $filter) {
      nodes {
        id
        status
        queryText
        tag
        submittedAt
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const PAGE_SIZE = 20;
const TAG_DELAY_MS = 250;

const when = (iso: string) => {
  const date = new Date(iso);
  const today = new Date().toDateString() === date.toDateString();
  return today ? date.toLocaleTimeString(undefined, { hour12: false }) : date.toLocaleString(undefined, { hour12: false });
};

interface Props {
  /** Changes when the list should be read again (a job was submitted or ended). */
  version: number;
  selectedId: string | null;
  onSelect(id: string): void;
}

/** Your jobs, newest first, filtered by status and tag, a page at a time ("More jobs"). */
export function JobHistory({ version: outside, selectedId, onSelect }: Props) {
  const id = useId();
  const [refreshes, setRefreshes] = useState(0);
  const version = outside + refreshes;
  const [status, setStatus] = useState<JobStatus | ''>('');
  const [tagInput, setTagInput] = useState('');
  const [tag, setTag] = useState('');
  useEffect(() => {
    const timer = setTimeout(() => setTag(tagInput.trim()), TAG_DELAY_MS);
    return () => clearTimeout(timer);
  }, [tagInput]);
  const filter: JobFilter = { ...(status ? { status: [status] } : {}), ...(tag ? { tag } : {}) };
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const listKey = `${status}|${tag}`;
  // A new filter or a refresh starts again from the newest job.
  const [shown, setShown] = useState({ listKey, version });
  if (shown.listKey !== listKey || shown.version !== version) {
    setShown({ listKey, version });
    setCursors([null]);
  }

  return (
    <div className="history-inner">
      <div className="history-head">
        <div className="history-title">
          <h2>History</h2>
          <button type="button" onClick={() => setRefreshes((n) => n + 1)}>
            Refresh
          </button>
        </div>
        <form className="history-filter" role="search" aria-label="Filter jobs" onSubmit={(event) => event.preventDefault()}>
          <div className="field">
            <label htmlFor={`${id}-status`}>Status</label>
            <select id={`${id}-status`} value={status} onChange={(event) => setStatus(event.target.value as JobStatus | '')}>
              <option value="">Any status</option>
              {JOB_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor={`${id}-tag`}>Tag</label>
            <input id={`${id}-tag`} type="search" value={tagInput} onChange={(event) => setTagInput(event.target.value)} />
          </div>
        </form>
      </div>
      <ul className="history-list" aria-label="Jobs">
        {cursors.map((after, i) => (
          <HistoryPage
            key={`${listKey}|${after ?? ''}`}
            after={after}
            filter={filter}
            version={version}
            last={i === cursors.length - 1}
            selectedId={selectedId}
            onSelect={onSelect}
            onMore={(cursor) => setCursors((c) => [...c, cursor])}
          />
        ))}
      </ul>
    </div>
  );
}

function HistoryPage(props: {
  after: string | null;
  version: number;
  filter: JobFilter;
  last: boolean;
  selectedId: string | null;
  onSelect(id: string): void;
  onMore(cursor: string): void;
}) {
  const { after, filter, version, last, selectedId, onSelect, onMore } = props;
  const [result, reread] = useQuery({ query: JobHistoryPage, variables: { first: PAGE_SIZE, after, filter } });
  // Read again on a refresh, keeping the rows on screen meanwhile.
  const readVersion = useRef(version);
  useEffect(() => {
    if (readVersion.current === version) return;
    readVersion.current = version;
    reread();
  }, [version, reread]);
  if (result.error) {
    return (
      <li>
        <ErrorView error={describeError(result.error)} />
      </li>
    );
  }
  const jobs = result.data?.jobs;
  if (!jobs) return <li className="muted">Loading…</li>;
  if (!after && jobs.nodes.length === 0) return <li className="muted">No jobs match.</li>;
  const next = jobs.pageInfo.endCursor;
  return (
    <>
      {jobs.nodes.map((job) => (
        <li key={job.id}>
          <button
            type="button"
            className="history-item"
            aria-current={job.id === selectedId ? 'true' : undefined}
            onClick={() => onSelect(job.id)}
          >
            <span className="history-top">
              <StatusBadge status={job.status} />
              <time dateTime={job.submittedAt}>{when(job.submittedAt)}</time>
            </span>
            <span className="history-sql">{job.queryText.trim().split('\n')[0] || '(no SQL text)'}</span>
            {job.tag && <span className="tag">{job.tag}</span>}
          </button>
        </li>
      ))}
      {last && jobs.pageInfo.hasNextPage && next && (
        <li>
          <button type="button" className="more" onClick={() => onMore(next)}>
            More jobs
          </button>
        </li>
      )}
    </>
  );
}
