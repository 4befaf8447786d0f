import type { FieldMergeFunction, Reference, StoreObject, TypePolicies } from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';

/**
 * A field of a list of embedded objects that stay in step with their parent (a page's columns):
 * merge them element by element, so that two queries selecting different fields of the same
 * columns both keep theirs. A list of another length replaces the old one.
 */
const mergeByIndex: FieldMergeFunction<readonly (StoreObject | Reference)[]> = (existing, incoming, { mergeObjects }) =>
  existing?.length === incoming.length ? incoming.map((item, i) => mergeObjects(existing[i] ?? item, item)) : incoming;

/**
 * jobql's cache policies for Apollo Client's InMemoryCache.
 *
 * - `Job` and `ResultPage` normalize by `id` (Apollo's default): nothing to configure. Every page of
 *   a result is its own `ResultPage:<id>` entity; `Job.result(first, after)` keeps one reference per
 *   cursor, so a page read twice is served from the cache.
 * - The objects without an id are values embedded in their parent (`JobError`, `JobProgress`,
 *   `DmlCounts`, `ResultDownloads`, `PageInfo`, `JobStatusEvent`): `merge: true` tells Apollo that
 *   two writes of the same parent's field describe the same value, so the fields of both are kept
 *   (and no "Cache data may be lost" warning). They have no `id`, so they are never normalized:
 *   `keyFields: false` would change nothing.
 * - `Query.jobs` is one list per `filter`: pages fetched with `after` append to it
 *   (`relayStylePagination`). Select `edges { cursor node { ... } }`: `nodes` is kept from the
 *   latest page only.
 * - `Query.job(id)` reads the `Job:<id>` already in the cache (from `submitQuery`, `jobs` or a
 *   subscription event) before asking the server.
 */
export const typePolicies: TypePolicies = {
  Query: {
    fields: {
      jobs: relayStylePagination(['filter']),
      job: {
        read(existing, { args, toReference }) {
          return existing !== undefined || typeof args?.['id'] !== 'string' ? existing : toReference({ __typename: 'Job', id: args['id'] });
        },
      },
    },
  },
  ResultPage: { fields: { columns: { merge: mergeByIndex } } },
  JobError: { merge: true },
  JobProgress: { merge: true },
  DmlCounts: { merge: true },
  ResultDownloads: { merge: true },
  PageInfo: { merge: true },
  JobStatusEvent: { merge: true },
};
