import { createJobqlClient, type Jobql } from './client.ts';
import { CancelJob, type JobStatus, type JobStatusEvent, JobStatusSubscription, ResultPageQuery, SubmitQuery, TERMINAL } from './operations.ts';

export const QUICK_SQL = 'select range as n from range(250)';
export const LONG_SQL = 'select sum(hash(range)) from range(10000000000)';

export type Log = (line: string) => void;

/** A PROGRESS or QUEUE_POSITION event as a line: news of the latest state, not a new one. */
function news(event: { kind: string; sequence: number; job: { queuePosition: number | null; progress: { percentage: number | null } | null } }): string {
  if (event.kind === 'QUEUE_POSITION') return `  (${event.sequence}: #${event.job.queuePosition ?? '?'} in line)`;
  return `  (${event.sequence}: ${event.job.progress?.percentage ?? '?'}%)`;
}

async function submit(jobql: Jobql, sql: string, log: Log): Promise<string> {
  const { data } = await jobql.client.mutate({ mutation: SubmitQuery, variables: { sql } });
  if (!data) throw new Error('submitQuery answered no data');
  log(`submitted ${data.submitQuery.job.id}: ${sql}`);
  return data.submitQuery.job.id;
}

/**
 * Follows `jobStatus` from the job's first state (`afterSequence: 0`) to its end and resolves
 * with the terminal status; a dropped socket is resumed after the last sequence seen (client.ts).
 * Prints `sequence status` per event, dropping any whose sequence is not above the last one seen
 * (a repeat), and hands the others to `onEvent`.
 *
 * It lets the server complete the subscription after the terminal event rather than unsubscribing
 * on it: graphql-ws 6.4 counts a subscription released twice when its `complete` frame arrives
 * together with the event that made the client unsubscribe, and then drops the next
 * subscription's retry after a lost socket (it thinks none is left).
 */
function follow(jobql: Jobql, id: string, log: Log, onEvent?: (event: JobStatusEvent) => Promise<void> | void): Promise<JobStatus> {
  return new Promise((resolve, reject) => {
    let last = 0;
    let terminal: JobStatus | null = null;
    const subscription = jobql.client.subscribe({ query: JobStatusSubscription, variables: { id, afterSequence: 0 } }).subscribe({
      next({ data, error }) {
        if (error) return fail(error);
        const event = data?.jobStatus;
        if (event && event.kind !== 'TRANSITION') return log(news(event));
        if (!event || event.sequence <= last) return;
        last = event.sequence;
        log(`${event.sequence} ${event.status}`);
        if (TERMINAL.has(event.status)) terminal = event.status;
        else Promise.resolve(onEvent?.(event)).catch(fail);
      },
      error: fail,
      complete: () => (terminal ? resolve(terminal) : fail(new Error(`jobStatus(${id}) completed before a terminal status`))),
    });
    function fail(error: unknown): void {
      subscription.unsubscribe();
      reject(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

/** Reads every page of the job's result, 100 rows at a time, following `endCursor`. */
async function readAllPages(jobql: Jobql, id: string, log: Log): Promise<{ rows: number; pages: number }> {
  let after: string | null = null;
  let rows = 0;
  let pages = 0;
  do {
    const variables: { id: string; first: number; after: string | null } = { id, first: 100, after };
    const { data } = await jobql.client.query({ query: ResultPageQuery, variables });
    const page = data?.job?.result;
    if (!page) throw new Error(`job ${id} has no result`);
    rows += page.rows.length;
    pages += 1;
    log(`page ${pages}: ${page.rows.length} rows`);
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  } while (after !== null);
  log(`${rows} rows in ${pages} pages`);
  return { rows, pages };
}

/**
 * The whole flow: submit a query, follow it to SUCCESS, read its result page by page; submit a
 * long query, cancel it once it runs and see it end ABORTED. Throws on any failure.
 */
export async function run(url: string, log: Log = console.log, jobql?: Jobql): Promise<{ jobId: string; longJobId: string }> {
  const client = jobql ?? createJobqlClient(url);
  try {
    const jobId = await submit(client, QUICK_SQL, log);
    const status = await follow(client, jobId, log);
    if (status !== 'SUCCESS') throw new Error(`job ${jobId} ended ${status}`);
    const { rows } = await readAllPages(client, jobId, log);
    if (rows !== 250) throw new Error(`expected 250 rows, read ${rows}`);

    const longJobId = await submit(client, LONG_SQL, log);
    let cancelled = false;
    const end = await follow(client, longJobId, log, async (event) => {
      if (event.status !== 'RUNNING' || cancelled) return;
      cancelled = true;
      log(`cancelling ${longJobId}`);
      await client.client.mutate({ mutation: CancelJob, variables: { id: longJobId } });
    });
    if (end !== 'ABORTED') throw new Error(`job ${longJobId} ended ${end}, not ABORTED`);
    return { jobId, longJobId };
  } finally {
    if (!jobql) await client.dispose();
  }
}

if (import.meta.main) {
  try {
    await run(process.argv[2] ?? 'http://127.0.0.1:4000/graphql');
  } catch (error) {
    console.error(error);
    process.exitCode = 1;
  }
}
