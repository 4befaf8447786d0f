import { RequestErrorCode, requestError } from '../core/errors.ts';
import type { Job, JobStatusEvent, QueuePlace } from '../core/job.ts';
import type { JobService } from '../jobs/job-service.ts';
import { resultAvailability } from '../core/results.ts';
import { isDone, isFailed, isTerminal } from '../core/status.ts';
import { decodeCursor, encodeCursor, pageSize } from './cursors.ts';
import { jobStatusStream } from './job-status-stream.ts';
import type { Resolvers } from './generated.ts';
import { jobResultPage } from './models.ts';
import { DateTimeScalar, JSONScalar } from './scalars.ts';

/** Precision and scale of a `DECIMAL(p,s)` column type. */
function decimalParts(type: string): [number, number] | null {
  // DuckDB's DECIMAL(p,s) and Snowflake's NUMBER(p,s).
  const match = /^(?:DECIMAL|NUMBER)\((\d+),\s*(\d+)\)$/.exec(type);
  return match ? [Number(match[1]), Number(match[2])] : null;
}

/** A job's place in line, worked out once per job object (the dispatcher's events carry it already). */
const queuePlaces = new WeakMap<Job, Promise<QueuePlace | null>>();
function queuePlaceOf(job: Job, jobs: Pick<JobService, 'queuePlace'>): Promise<QueuePlace | null> {
  if (job.queue !== undefined) return Promise.resolve(job.queue);
  let place = queuePlaces.get(job);
  if (!place) queuePlaces.set(job, (place = jobs.queuePlace(job)));
  return place;
}

/** Jobs list pages are small and fixed: the limits that matter for results do not apply. */
const DEFAULT_JOBS_PAGE = 20;
const MAX_JOBS_PAGE = 100;

export const resolvers: Resolvers = {
  DateTime: DateTimeScalar,
  JSON: JSONScalar,

  Query: {
    job: (_, { id }, { jobs, principal }) => jobs.get(id, principal),
    jobs: async (_, { first, after, filter }, { jobs, principal }) => {
      const size = pageSize(first, DEFAULT_JOBS_PAGE, MAX_JOBS_PAGE);
      const before = after ? decodeCursor('job', after, 'after') : null;
      const page = await jobs.list(
        {
          ...(filter?.status ? { status: filter.status } : {}),
          ...(filter?.tag != null ? { tag: filter.tag } : {}),
          ...(filter?.submittedAfter ? { submittedAfter: filter.submittedAfter } : {}),
          ...(filter?.submittedBefore ? { submittedBefore: filter.submittedBefore } : {}),
        },
        size,
        before,
        principal,
      );
      const edges = page.jobs.map((job) => ({ cursor: encodeCursor('job', job.seq), node: job }));
      return {
        edges,
        nodes: page.jobs,
        pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
      };
    },
  },

  Mutation: {
    submitQuery: async (_, { input: { notify, ...input } }, { jobs, principal }) => ({
      job: await jobs.submit({ ...input, notifyUrl: notify?.url ?? null }, principal),
    }),
    cancelJob: async (_, { id }, { jobs, principal }) => ({ job: await jobs.cancel(id, principal) }),
    attachQuery: async (_, { queryId }, { jobs, principal }) => ({ job: await jobs.attach(queryId, principal) }),
  },

  Subscription: {
    jobStatus: {
      subscribe: (_, { id, afterSequence }, { jobs, bus, principal, observer }) =>
        jobStatusStream(id, principal, jobs, bus, observer, afterSequence ?? null),
      resolve: (event: JobStatusEvent) => event,
    },
  },

  Job: {
    queuePosition: async (job, _, { jobs }) => (await queuePlaceOf(job, jobs))?.position ?? null,
    queueReason: async (job, _, { jobs }) => (await queuePlaceOf(job, jobs))?.reason ?? null,
    // Never negative: an attached query may have started before jobql knew of it.
    queuedSeconds: (job, _, { clock }) =>
      Math.max(0, (job.startedAt ?? job.endedAt ?? clock.now()).getTime() - job.submittedAt.getTime()) / 1000,
    elapsedSeconds: (job, _, { clock }) =>
      job.startedAt ? ((job.endedAt ?? clock.now()).getTime() - job.startedAt.getTime()) / 1000 : null,
    notifications: (job) =>
      job.notification && {
        url: job.notification.url,
        attempts: job.notification.attempts,
        deliveredAt: job.notification.deliveredAt,
        lastError: job.notification.lastError,
        gaveUp: job.notification.gaveUp,
      },
    isDone: (job) => isDone(job.status),
    isFailed: (job) => isFailed(job.status),
    isTerminal: (job) => isTerminal(job.status),
    // Signed for the job's owner, whoever asks (an admin's link carries no admin rights).
    downloads: (job, _, { downloadLinks, principal }) => (job.status === 'SUCCESS' ? downloadLinks.mint(job, principal) : null),
    result: async (job, { first, after }, { warehouse, limits, clock }) => {
      const availability = resultAvailability(job, clock.now());
      if (availability === 'not-ready' || !job.queryId) return null;
      if (availability === 'expired') {
        throw requestError(
          RequestErrorCode.RESULT_EXPIRED,
          `The result of job ${job.id} expired at ${job.resultExpiresAt?.toISOString()}`,
        );
      }
      const limit = pageSize(first, limits.defaultPageSize, limits.maxPageSize);
      const offset = after ? decodeCursor('row', after, 'after') : 0;
      const page = await warehouse.readResult(job.queryId, offset, limit);
      // A succeeded job without a stored result lost it to expiry (deleted a moment ago).
      if (!page) throw requestError(RequestErrorCode.RESULT_EXPIRED, `The result of job ${job.id} expired`);
      return jobResultPage(job.id, page);
    },
  },

  Column: {
    precision: (column) => decimalParts(column.type)?.[0] ?? null,
    scale: (column) => decimalParts(column.type)?.[1] ?? null,
  },

  ResultPage: {
    id: (page) => `${page.jobId}:${page.offset}:${page.rows.length}`,
    rows: (page, _, { observer }) => {
      observer?.rowsServed('graphql', page.rows.length);
      return page.rows;
    },
    pageInfo: (page) => {
      const end = page.offset + page.rows.length;
      return {
        hasNextPage: end < page.totalRows,
        endCursor: page.rows.length > 0 ? encodeCursor('row', end) : null,
      };
    },
  },
};
