import { cacheExchange } from '@urql/exchange-graphcache';
import { relayPagination } from '@urql/exchange-graphcache/extras';

/**
 * urql's normalized cache for jobql: use it in place of `cacheExchange` from '@urql/core'.
 * Job and ResultPage are keyed by their `id` (Graphcache's default); the other types have none and
 * are values inside their parent (a key function returning null says so, and silences the warning).
 */
export const jobqlGraphcache = cacheExchange({
  keys: {
    JobError: () => null,
    JobProgress: () => null,
    DmlCounts: () => null,
    ResultDownloads: () => null,
    Column: () => null,
    PageInfo: () => null,
    JobConnection: () => null,
    JobEdge: () => null,
    JobStatusEvent: () => null,
    SubmitQueryPayload: () => null,
    CancelJobPayload: () => null,
    AttachQueryPayload: () => null,
  },
  resolvers: {
    Query: {
      // Pages of one filter merge into one list.
      jobs: relayPagination(),
      // job(id) is answered by a Job already cached (from submitQuery, jobs or a subscription).
      job: (_parent, args) => ({ __typename: 'Job', id: args['id'] as string }),
    },
  },
  updates: {
    Mutation: {
      // A new job belongs in the lists: fetch them again when next read.
      submitQuery(_result, _args, cache) {
        for (const field of cache.inspectFields('Query')) {
          if (field.fieldName === 'jobs') cache.invalidate('Query', 'jobs', field.arguments);
        }
      },
    },
  },
});
