import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

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

/** Runs a subscription to its end and returns every `next` payload (or the errors it ended with). */
export function collect<T = any>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ events: T[]; errors: unknown }> {
  return new Promise((resolve) => {
    const events: T[] = [];
    client.subscribe<T>(
      { query, variables },
      {
        next: (value) => {
          if (value.errors) resolve({ events, errors: value.errors });
          else events.push(value.data as T);
        },
        error: (errors) => resolve({ events, errors }),
        complete: () => resolve({ events, errors: null }),
      },
    );
  });
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
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const data = await gqlData(url, `query($id: ID!) { job(id: $id) { ${fields} } }`, { id }, token);
    if (data.job?.isTerminal) return data.job;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`job ${id} did not end within ${timeoutMs} ms`);
}

/** Polls until the job reaches `status`. */
export async function waitForStatus(
  url: string,
  id: string,
  status: string,
  timeoutMs = 30_000,
  token?: string,
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const data = await gqlData(url, `query($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`, { id }, token);
    if (data.job?.status === status) return data.job;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`job ${id} did not reach ${status} within ${timeoutMs} ms`);
}
