/** A minimal GraphQL-over-HTTP client for the benchmarks (POST, JSON, Node's fetch). */

interface GraphQLResponse {
  data?: unknown;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/**
 * Posts one operation; fails on any GraphQL error, and when no answer comes within `timeoutMs` (a
 * server that stopped answering fails the benchmark instead of hanging it); returns `data` as the
 * caller's type.
 */
export async function gql<T>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  timeoutMs = 120_000,
  token?: string,
): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await response.json()) as GraphQLResponse;
  if (body.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  if (body.data === undefined || body.data === null) throw new Error(`no data (HTTP ${response.status})`);
  return body.data as T;
}

/** Runs `work` over `items` with at most `concurrency` in flight; results in input order. */
export async function mapConcurrent<I, O>(items: readonly I[], concurrency: number, work: (item: I, index: number) => Promise<O>): Promise<O[]> {
  const out = new Array<O>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await work(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}
