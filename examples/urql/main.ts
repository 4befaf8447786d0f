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
  const { data, error } = await jobql.client.mutation(SubmitQuery, { sql }).toPromise();
  if (error) throw error;
  if (!data) throw new Error('submitQuery answered no data');
  log(`submitted ${data.submitQuery.job.id}: ${sql}`);
  return data.submitQuery.job.id;
}

/**
 * Follows `jobStatus` to its end and resolves with the terminal status, from its first state
 * (`afterSequence: 0`), every state once, even across a dropped socket (client.ts resumes after
 * the last sequence seen). Prints `sequence status` per event and hands it to `onEvent`. urql
 * repeats the last event when a subscription completes (the same data again, with
 * `hasNext: false`), so an event whose sequence is not above the last one seen is a repeat and
 * is dropped.
 */
function follow(jobql: Jobql, id: string, log: Log, onEvent?: (event: JobStatusEvent) => Promise<void> | void): Promise<JobStatus> {
  return new Promise((resolve, reject) => {
    let last = 0;
    let terminal: JobStatus | null = null;
    const subscription = jobql.client.subscription(JobStatusSubscription, { id, afterSequence: 0 }).subscribe((result) => {
      if (result.error) return fail(result.error);
      const event = result.data?.jobStatus;
      if (event && event.kind !== 'TRANSITION') {
        log(news(event));
      } else if (event && event.sequence <= last) {
        log(`(repeat of ${event.sequence} dropped)`);
      } else if (event) {
        last = event.sequence;
        log(`${event.sequence} ${event.status}`);
        if (TERMINAL.has(event.status)) terminal = event.status;
        else Promise.resolve(onEvent?.(event)).catch(fail);
      }
      if (!result.hasNext) {
        // The last result of the subscription: the server completed it.
        if (terminal) resolve(terminal);
        else fail(new Error(`jobStatus(${id}) completed before a terminal status`));
      }
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
    const { data, error } = await jobql.client.query(ResultPageQuery, variables).toPromise();
    if (error) throw error;
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
      const { error } = await client.client.mutation(CancelJob, { id: longJobId }).toPromise();
      if (error) throw error;
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
