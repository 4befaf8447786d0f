import { createClient, type Client } from 'graphql-sse';

export const QUICK_SQL = 'select range as n from range(250)';
export const LONG_SQL = 'select sum(hash(range)) from range(10000000000)';

const SUBMIT = 'mutation ($sql: String!) { submitQuery(input: { sql: $sql }) { job { id status } } }';
const CANCEL = 'mutation ($id: ID!) { cancelJob(id: $id) { job { id status } } }';
const JOB_STATUS =
  'subscription ($id: ID!, $afterSequence: Int) { jobStatus(id: $id, afterSequence: $afterSequence) { kind sequence status job { queuePosition progress { percentage } } } }';

type JobStatus = 'QUEUED' | 'RUNNING' | 'SUCCESS' | 'FAILED_WITH_ERROR' | 'FAILED_WITH_INCIDENT' | 'ABORTING' | 'ABORTED' | 'DISCONNECTED';
const TERMINAL: ReadonlySet<string> = new Set(['SUCCESS', 'FAILED_WITH_ERROR', 'FAILED_WITH_INCIDENT', 'ABORTED', 'DISCONNECTED']);
interface JobStatusEvent {
  kind: 'TRANSITION' | 'PROGRESS' | 'QUEUE_POSITION';
  sequence: number;
  status: JobStatus;
  job: { queuePosition: number | null; progress: { percentage: number | null } | null };
}

export type Log = (line: string) => void;

/** A PROGRESS or QUEUE_POSITION event as a line: news of the latest state, not a new one. */
function news(event: { kind: string; sequence: number; job: { queuePosition: number | null; progress: { percentage: number | null } | null } }): string {
  if (event.kind === 'QUEUE_POSITION') return `  (${event.sequence}: #${event.job.queuePosition ?? '?'} in line)`;
  return `  (${event.sequence}: ${event.job.progress?.percentage ?? '?'}%)`;
}

/** A query or mutation as a plain POST, for what is not a subscription. */
async function post<T>(url: string, headers: Record<string, string>, query: string, variables: Record<string, unknown>): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T | null; errors?: { message: string }[] };
  if (body.errors?.length || !body.data) throw new Error(`HTTP ${response.status}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/**
 * Follows `jobStatus` over Server-Sent Events, from the job's first state (`afterSequence: 0`),
 * until the server ends the stream (after a terminal status) and returns that status. Prints
 * `sequence status` per event; drops any whose sequence is not above the last one seen.
 *
 * graphql-sse sends this same request object again when it reopens a dropped stream
 * (`retryAttempts`), so moving its `afterSequence` on with every event makes the new stream start
 * after the last one seen: the transitions missed meanwhile come from the job's history, none twice.
 */
async function follow(sse: Client, id: string, log: Log, onEvent?: (event: JobStatusEvent) => Promise<void>): Promise<string> {
  let last = 0;
  let terminal: string | null = null;
  const request = { query: JOB_STATUS, variables: { id, afterSequence: 0 } };
  for await (const result of sse.iterate<{ jobStatus: JobStatusEvent }>(request)) {
    if (result.errors?.length) throw new Error(`jobStatus(${id}): ${JSON.stringify(result.errors)}`);
    const event = result.data?.jobStatus;
    if (event && event.kind !== 'TRANSITION') {
      log(news(event));
      continue;
    }
    if (!event || event.sequence <= last) continue;
    last = event.sequence;
    request.variables = { id, afterSequence: last };
    log(`${event.sequence} ${event.status}`);
    if (TERMINAL.has(event.status)) terminal = event.status;
    else await onEvent?.(event);
  }
  if (!terminal) throw new Error(`jobStatus(${id}) ended before a terminal status`);
  return terminal;
}

/**
 * Submits a query and follows it to SUCCESS over SSE; submits a long one, cancels it once it runs
 * and sees it end ABORTED. A token (JOBQL_TOKEN by default) goes in the `Authorization` header of
 * every request, the event streams' too. Throws on any failure.
 */
export async function run(url: string, log: Log = console.log, token: string | undefined = process.env['JOBQL_TOKEN']): Promise<{ jobId: string; longJobId: string }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  // jobql (graphql-yoga) serves graphql-sse's "distinct connections mode": one event stream per
  // subscription, a POST to /graphql with `accept: text/event-stream`. That is the client's default.
  // A stream that drops is opened again (retryAttempts), after the last sequence seen (follow).
  const sse = createClient({ url, headers, singleConnection: false, retryAttempts: 3 });
  try {
    const submit = async (sql: string): Promise<string> => {
      const { submitQuery } = await post<{ submitQuery: { job: { id: string } } }>(url, headers, SUBMIT, { sql });
      log(`submitted ${submitQuery.job.id}: ${sql}`);
      return submitQuery.job.id;
    };

    const jobId = await submit(QUICK_SQL);
    const status = await follow(sse, jobId, log);
    if (status !== 'SUCCESS') throw new Error(`job ${jobId} ended ${status}`);

    const longJobId = await submit(LONG_SQL);
    let cancelled = false;
    const end = await follow(sse, longJobId, log, async (event) => {
      if (event.status !== 'RUNNING' || cancelled) return;
      cancelled = true;
      log(`cancelling ${longJobId}`);
      await post(url, headers, CANCEL, { id: longJobId });
    });
    if (end !== 'ABORTED') throw new Error(`job ${longJobId} ended ${end}, not ABORTED`);
    return { jobId, longJobId };
  } finally {
    sse.dispose();
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
