import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { waitFor } from './wait-for.ts';

export interface GraphQLResponse<T = Record<string, unknown>> {
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: { code?: string; [key: string]: unknown } }[];
}

/** One GraphQL request over HTTP POST, with Node's fetch. */
export async function gql<T = any>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse<T>;
}

/** Like gql, but fails the test on any error and returns `data`. */
export async function gqlData<T = any>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<T> {
  const response = await gql<T>(url, query, variables, token);
  if (response.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(response.errors)}`);
  return response.data as T;
}

export function wsClient(wsUrl: string, token?: string): Client {
  return createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    ...(token ? { connectionParams: { authorization: `Bearer ${token}` } } : {}),
  });
}

/** A subscription being collected: `first` resolves on its first `next` (or at its end if none came). */
export interface Collecting<T> {
  first: Promise<void>;
  /** What `collect` resolves with. */
  result: Promise<{ events: T[]; errors: unknown }>;
}

/**
 * Like `collect`, and tells when the first event arrived: the server sends it once the
 * subscription is in place, so a test can act on the job from then on instead of sleeping.
 */
export function collecting<T = unknown>(client: Client, query: string, variables: Record<string, unknown> = {}): Collecting<T> {
  const first = Promise.withResolvers<void>();
  const result = new Promise<{ events: T[]; errors: unknown }>((resolve) => {
    const events: T[] = [];
    const end = (errors: unknown): void => {
      first.resolve();
      resolve({ events, errors });
    };
    client.subscribe<T>(
      { query, variables },
      {
        next: (value) => {
          first.resolve();
          if (value.errors) end(value.errors);
          else events.push(value.data as T);
        },
        error: (errors) => end(errors),
        complete: () => end(null),
      },
    );
  });
  return { first: first.promise, result };
}

/** Runs a subscription to its end and returns every `next` payload (or the errors it ended with). */
export function collect<T = any>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ events: T[]; errors: unknown }> {
  return collecting<T>(client, query, variables).result;
}

export const JOB_FIELDS = `id queryId queryText status isDone isFailed isTerminal submittedAt startedAt endedAt tag
  timeoutSeconds statementCount error { code sqlState message } dml { rowsInserted rowsUpdated rowsDeleted }`;

/** Submits SQL and returns the job as submitQuery answered. */
export async function submit(url: string, sql: string, extra: Record<string, unknown> = {}, token?: string): Promise<any> {
  const data = await gqlData(
    url,
    `mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { job { ${JOB_FIELDS} } } }`,
    { input: { sql, ...extra } },
    token,
  );
  return data.submitQuery.job;
}

/** Polls job(id) over HTTP until it is terminal (a test helper; clients would subscribe). */
export async function waitForEnd(
  url: string,
  id: string,
  timeoutMs = 30_000,
  fields = JOB_FIELDS,
  token?: string,
): Promise<any> {
  let last: { status?: string } | null = null;
  return waitFor(
    async () => {
      const data = await gqlData(url, `query($id: ID!) { job(id: $id) { ${fields} } }`, { id }, token);
      last = data.job;
      return data.job?.isTerminal ? data.job : null;
    },
    { timeoutMs, what: () => `job ${id} to end (last seen ${last?.status ?? JSON.stringify(last)})` },
  );
}

/** Polls until the job reaches `status`. */
export async function waitForStatus(
  url: string,
  id: string,
  status: string,
  timeoutMs = 30_000,
  token?: string,
): Promise<any> {
  let last: { status?: string } | null = null;
  return waitFor(
    async () => {
      const data = await gqlData(url, `query($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`, { id }, token);
      last = data.job;
      return data.job?.status === status ? data.job : null;
    },
    { timeoutMs, what: () => `job ${id} to reach ${status} (last seen ${last?.status ?? JSON.stringify(last)})` },
  );
}
