/**
 * The submit→result load generator, its own process: sequential requests over HTTP (one
 * keep-alive connection, Node's fetch), timed on the client's clock.
 *
 * Two ways per iteration, alternating so that drift hits both alike:
 *   one trip   submitQuery(input: {sql, waitMs}) { job { … result { rows } } }
 *   two trips  submitQuery(input: {sql, waitMs}) { job { id status … } }, then job(id) { result { rows } }
 * Each records the job's own times (submittedAt, startedAt, endedAt) to break the time down.
 */
import { performance } from 'node:perf_hooks';
import { gql } from '../lib/gql.ts';
import { ready, serveRpc } from '../lib/rpc.ts';

export interface Sample {
  /** Client: request sent → response read (one trip), or both trips together. */
  totalMs: number;
  /** Two trips only: the submit (until SUCCESS), and the result read. */
  submitMs: number;
  readMs: number;
  /** Client send → job.submittedAt → startedAt → endedAt → client receipt of the submit answer. */
  toSubmittedMs: number;
  queuedMs: number;
  runMs: number;
  endToAnswerMs: number;
}

interface JobTimes {
  id: string;
  status: string;
  submittedAt: string;
  startedAt: string | null;
  endedAt: string | null;
  result?: { rows: unknown[] } | null;
}

const FIELDS = 'id status submittedAt startedAt endedAt';
const nowMs = (): number => performance.timeOrigin + performance.now();

function breakdown(sentAt: number, answeredAt: number, job: JobTimes): Omit<Sample, 'totalMs' | 'submitMs' | 'readMs'> {
  if (job.status !== 'SUCCESS' || !job.startedAt || !job.endedAt) throw new Error(`job did not succeed: ${JSON.stringify(job)}`);
  const submitted = Date.parse(job.submittedAt);
  const started = Date.parse(job.startedAt);
  const ended = Date.parse(job.endedAt);
  return { toSubmittedMs: submitted - sentAt, queuedMs: started - submitted, runMs: ended - started, endToAnswerMs: answeredAt - ended };
}

async function oneTrip(url: string, sql: string, waitMs: number): Promise<Sample> {
  const sentAt = nowMs();
  const data = await gql<{ submitQuery: { job: JobTimes } }>(
    url,
    `mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { job { ${FIELDS} result { rows } } } }`,
    { input: { sql, waitMs } },
  );
  const answeredAt = nowMs();
  const job = data.submitQuery.job;
  if (job.result?.rows.length !== 1) throw new Error(`expected one row: ${JSON.stringify(job)}`);
  return { totalMs: answeredAt - sentAt, submitMs: Number.NaN, readMs: Number.NaN, ...breakdown(sentAt, answeredAt, job) };
}

async function twoTrips(url: string, sql: string, waitMs: number): Promise<Sample> {
  const sentAt = nowMs();
  const data = await gql<{ submitQuery: { job: JobTimes } }>(
    url,
    `mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { job { ${FIELDS} } } }`,
    { input: { sql, waitMs } },
  );
  const answeredAt = nowMs();
  const job = data.submitQuery.job;
  const read = await gql<{ job: { result: { rows: unknown[] } | null } }>(url, 'query($id: ID!) { job(id: $id) { result { rows } } }', {
    id: job.id,
  });
  const doneAt = nowMs();
  if (read.job.result?.rows.length !== 1) throw new Error(`expected one row: ${JSON.stringify(read)}`);
  return { totalMs: doneAt - sentAt, submitMs: answeredAt - sentAt, readMs: doneAt - answeredAt, ...breakdown(sentAt, answeredAt, job) };
}

serveRpc({
  run: async (raw) => {
    const { url, sql, waitMs, warmup, iterations } = raw as { url: string; sql: string; waitMs: number; warmup: number; iterations: number };
    for (let i = 0; i < warmup; i++) await (i % 2 ? twoTrips(url, sql, waitMs) : oneTrip(url, sql, waitMs));
    const one: Sample[] = [];
    const two: Sample[] = [];
    for (let i = 0; i < iterations; i++) {
      one.push(await oneTrip(url, sql, waitMs));
      two.push(await twoTrips(url, sql, waitMs));
    }
    return { one, two };
  },
  stop: () => process.exit(0),
});
ready({ pid: process.pid });
