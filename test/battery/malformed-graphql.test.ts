/**
 * The malformed-GraphQL battery: thousands of seeded, reproducible bad requests over HTTP (random
 * bytes, invalid JSON, wrong shapes, mutated jobql documents, deep nesting, many aliases, fragment
 * cycles, unknown fields, wrong content types and methods, garbage query strings, bodies around
 * JOBQL_MAX_REQUEST_BYTES), then hundreds of mutated documents over one graphql-ws socket.
 *
 * Every answer must be a typed refusal (`extensions.code` from the closed RequestErrorCode set,
 * never a 5xx, never INTERNAL_SERVER_ERROR) or, for the rare generated input that is valid, a
 * result. The server must stay healthy. A handful of refusals that come from the libraries under
 * jobql rather than from jobql (see KNOWN_DEVIATIONS) are counted apart and do not fail the run
 * unless BATTERY_STRICT=1; each also has a `todo` test that states the contract it breaks.
 *
 * Replay: BATTERY_SEED=<seed> BATTERY_GRAPHQL_RUNS=<n> node --test test/battery/malformed-graphql.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import WebSocket from 'ws';
import { gql, submit, waitForEnd } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { BATTERY_SEED, envInt, NASTY_CHARS, preview, REQUEST_ERROR_CODES, Tally, type TokenMutation, tokenMutations } from './seed.ts';

const RUNS = envInt('BATTERY_GRAPHQL_RUNS', 5000);
const WS_RUNS = envInt('BATTERY_GRAPHQL_WS_RUNS', 500);
// Every deviation below is fixed in front of yoga now, so each is a failure unless BATTERY_STRICT=0.
const STRICT = process.env['BATTERY_STRICT'] !== '0';
const MAX_REQUEST_BYTES = 65_536;
const REQUEST_TIMEOUT_MS = 15_000;

/**
 * Answers that broke the documented contract and came from graphql-yoga or Node's HTTP parser, in
 * front of jobql's own code (http/request-guards.ts, graphql/http-answers.ts and the server's
 * clientError handler answer them now). A failure by default; BATTERY_STRICT=0 counts them apart.
 */
const KNOWN_DEVIATIONS = {
  /** yoga JSON.parse()s `variables`/`extensions` of a GET or form body unguarded: 500 INTERNAL_SERVER_ERROR. */
  'urlencoded-json-500': 'GET or form-urlencoded request whose variables/extensions param is not JSON → 500 INTERNAL_SERVER_ERROR (should be 400 BAD_REQUEST)',
  /** yoga answers an unsupported content type with an empty body. */
  'empty-415': 'unsupported content type → 415 with an empty body (errors.ts promises BAD_REQUEST)',
  /** yoga answers an unsatisfiable Accept with an empty body. */
  'empty-406': 'unsatisfiable Accept header → 406 with an empty body',
  /** Node's HTTP parser refuses headers over 16 KiB (a long GET query string) before jobql sees it. */
  'empty-431': 'request line/headers over 16 KiB → 431 with an empty body from Node (not JSON)',
} as const;
type Deviation = keyof typeof KNOWN_DEVIATIONS;

let server: TestServer;
let doneJobId = '';

before(async () => {
  server = await startServer({
    JOBQL_MAX_REQUEST_BYTES: String(MAX_REQUEST_BYTES),
    // High enough that the depth, alias, cost and directive rules are reached, not just the tokens.
    JOBQL_GRAPHQL_MAX_TOKENS: '20000',
  });
  const job = await submit(server.url, "select 42 as answer, 'x' as s");
  doneJobId = (await waitForEnd(server.url, job.id)).id;
});
after(() => server.stop());

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

interface Operation {
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
}

/** Valid jobql operations (the job id is filled in once the server is up). */
function corpus(): Operation[] {
  const id = doneJobId;
  return [
    {
      query: `query Job($id: ID!) { job(id: $id) { id status isDone isFailed isTerminal queryText submittedAt
        error { code sqlState message } dml { rowsInserted } downloads { csv }
        result(first: 5) { columns { name type nullable precision scale } rows totalRows truncated pageInfo { hasNextPage endCursor } } } }`,
      variables: { id },
      operationName: 'Job',
    },
    { query: `{ jobs(first: 10, filter: { status: [SUCCESS, FAILED_WITH_ERROR], tag: "demo", submittedAfter: "2020-01-01T00:00:00Z" }) { edges { cursor node { id status } } pageInfo { hasNextPage endCursor } } }` },
    { query: `mutation { submitQuery(input: { sql: "select 1", tag: "battery", timeoutSeconds: 5 }) { job { id status } } }` },
    { query: `mutation($in: SubmitQueryInput!) { submitQuery(input: $in) { job { id statementCount } } }`, variables: { in: { sql: 'select ?::int + 1 as n', bindings: [41] } } },
    { query: `mutation { cancelJob(id: "${id}") { job { id status isTerminal } } }` },
    { query: `mutation { attachQuery(queryId: "01b2c3d4-0000-1111-2222-333344445555") { job { id } } }` },
    { query: `subscription { jobStatus(id: "${id}") { status previousStatus sequence at job { isDone endedAt error { message } } } }` },
    { query: `query A { __typename } query B { jobs { nodes { id tag } } }`, operationName: 'B' },
    { query: `fragment F on Job { id status } query { job(id: "${id}") { ...F ... on Job { tag timeoutSeconds } } }` },
    { query: `query($skip: Boolean = false) { jobs @skip(if: $skip) { nodes { id @include(if: true) } } }`, variables: { skip: false } },
    { query: `{ job(id: "${id}") { result(first: 1, after: "cm93OjA") { rows } } }` },
  ];
}

const TOKEN = /\.\.\.|[!$&()[\]{}:=@|]|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_]*|\s+|#[^\n]*|./gsu;
const PUNCTUATORS = ['{', '}', '(', ')', '[', ']', ':', '$', '@', '...', '!', '=', '|', '&', ',', '"', '"""', '#', '.', '..'];
const NAMES = ['nope', '__schema', '__type', '__typename', 'query', 'mutation', 'subscription', 'fragment', 'on', 'null', 'true', 'Job', 'Query', 'id', 'job', 'jobs', 'first', 'input', 'sql', '_', 'a'.repeat(300)];
const VALUES = ['-1', '0', '2147483648', '1e309', '-0.0', 'null', '""', '"\\u0000"', '"\\ud800"', '"\\uZZZZ"', '[]', '{}', '$undefined', 'ENUM_NOPE', '"' + 'x'.repeat(2000) + '"'];


const mutation: fc.Arbitrary<TokenMutation> = fc.oneof(
  tokenMutations.drop,
  tokenMutations.repeat(4, '{'),
  tokenMutations.swap,
  tokenMutations.insert(PUNCTUATORS),
  tokenMutations.insert(NASTY_CHARS),
  fc.tuple(fc.nat(), fc.constantFrom(...NAMES, ...VALUES)).map(([i, v]): TokenMutation => (t) => {
    if (t.length === 0) return;
    const at = i % t.length;
    if (/^[A-Za-z_"\d-]/.test(t[at] ?? '')) t[at] = v;
  }),
  tokenMutations.cut,
  fc.tuple(fc.nat(), fc.string({ maxLength: 8 })).map(([i, s]): TokenMutation => (t) => void t.splice(i % (t.length + 1), 0, s)),
);

/** A valid operation with 1 to 6 token mutations (deleted, duplicated, swapped, inserted, cut). */
const mutatedOperation: fc.Arbitrary<Operation> = fc
  .tuple(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 6 }))
  .map(([pick, mutations]) => {
    const ops = corpus();
    const op = ops[pick % ops.length] as Operation;
    const tokens = op.query.match(TOKEN) ?? [];
    for (const m of mutations) m(tokens);
    return { ...op, query: tokens.join('') };
  });

function nest(depth: number, open: string, inner: string, close: string): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

/** Documents nested 1 to 1,000 deep, in every place GraphQL allows nesting (and some it does not). */
const deepOperation: fc.Arbitrary<Operation> = fc
  .tuple(fc.integer({ min: 1, max: 1000 }), fc.nat({ max: 7 }))
  .map(([depth, form]): Operation => {
    switch (form) {
      case 0:
        return { query: `{ ${nest(depth, 'jobs { nodes { ', 'id', ' } }')} }` };
      case 1:
        return { query: nest(depth, '{', '', '}') };
      case 2:
        return { query: `{ jobs(filter: { status: ${nest(depth, '[', 'SUCCESS', ']')} }) { nodes { id } } }` };
      case 3:
        return { query: `{ jobs(filter: ${nest(depth, '{ tag: ', '"x"', ' }')}) { nodes { id } } }` };
      case 4:
        return { query: `{ ${nest(depth, '... on Query { ', '__typename', ' }')} }` };
      case 5:
        return { query: `query($id: ID!) { job(id: $id) { id } }`, variables: { id: JSON.parse(nest(depth, '[', '1', ']')) } };
      case 6:
        return { query: `mutation($in: SubmitQueryInput!) { submitQuery(input: $in) { job { id } } }`, variables: { in: { sql: 'select ?', bindings: [JSON.parse(nest(depth, '{"a":', '1', '}'))] } } };
      default:
        return { query: `{ job(id: ${nest(depth, '(', '"x"', ')')}) { id } }` };
    }
  });

/** 1 to 1,000 aliases of cheap, expensive, unknown and argument-taking fields. */
const aliasOperation: fc.Arbitrary<Operation> = fc
  .tuple(fc.integer({ min: 1, max: 1000 }), fc.constantFrom('__typename', 'jobs(first: 1) { nodes { id } }', 'job(id: "x") { id }', 'nope', 'job(id: $id) { result { rows } }'))
  .map(([n, field]) => ({
    query: `query($id: ID! = "x") { ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`,
  }));

/** Fragment cycles and fan-outs: each fragment spreads the next once or twice, the last may loop back. */
const fragmentOperation: fc.Arbitrary<Operation> = fc
  .tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.constantFrom('Query', 'Job', 'Nope'))
  .map(([n, fan, cycle, type]) => {
    const leaf = type === 'Query' ? '__typename' : 'id';
    const fragments = Array.from({ length: n }, (_, i) => {
      const next = i + 1 < n ? `F${i + 1}` : cycle ? 'F0' : null;
      const spreads = next ? Array<string>(fan).fill(`...${next}`).join(' ') : '';
      return `fragment F${i} on ${type} { ${leaf} ${spreads} }`;
    });
    const use = type === 'Query' ? '{ ...F0 }' : `{ job(id: "x") { ...F0 } }`;
    return { query: `${use} ${fragments.join(' ')}` };
  });

/** Unknown fields, arguments, types, directives and enum values; wrong argument types. */
const unknownOperation: fc.Arbitrary<Operation> = fc.oneof(
  fc.constantFrom(
    '{ nope }',
    '{ job(id: "x", nope: 1) { id } }',
    '{ jobs(first: "ten") { nodes { id } } }',
    '{ jobs(filter: { status: [DONE] }) { nodes { id } } }',
    '{ job(id: 5) { id nope } }',
    '{ job(id: "x") { result(first: 1.5) { rows } } }',
    '{ jobs { nodes { ...on Nope { id } } } }',
    '{ __typename @nope }',
    '{ __type(name: "Job") { name fields { name } } }',
    'subscription { jobStatus(id: "x") { status } other: jobStatus(id: "y") { status } }',
    'mutation { submitQuery { job { id } } }',
    'mutation { submitQuery(input: { sql: null }) { job { id } } }',
    'query($x: Nope) { __typename }',
    'query($x: Int = "s") { jobs(first: $x) { nodes { id } } }',
    '{ job(id: "x") { id } } { jobs { nodes { id } } }',
    'query Q { __typename } query Q { __typename }',
  ),
  fc.tuple(fc.constantFrom('job', 'jobs', 'submitQuery', 'cancelJob', 'jobStatus', 'nope'), fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/), fc.jsonValue({ maxDepth: 2 }))
    .map(([field, arg, value]) => `{ ${field}(${arg}: ${JSON.stringify(value) ?? 'null'}) { id } }`),
).map((query) => ({ query }));

const anyOperation: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 6, arbitrary: mutatedOperation },
  { weight: 1, arbitrary: deepOperation },
  { weight: 1, arbitrary: aliasOperation },
  { weight: 1, arbitrary: fragmentOperation },
  { weight: 1, arbitrary: unknownOperation },
);

interface HttpCase {
  kind: string;
  method: string;
  /** The raw query string, without `?`. */
  search?: string;
  headers: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
}

const ACCEPTS = [undefined, 'application/json', 'application/graphql-response+json', 'text/event-stream', 'application/graphql-response+json, application/json;q=0.9', 'image/png'] as const;
const accept: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 5, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.constantFrom(...ACCEPTS.filter((a) => a !== undefined && a !== 'image/png')) },
  { weight: 1, arbitrary: fc.constant('image/png') },
);
const withAccept = (a: string | undefined, headers: Record<string, string> = {}): Record<string, string> => (a ? { ...headers, accept: a } : headers);
const jsonPost = (kind: string, body: string | Uint8Array<ArrayBuffer>, a: string | undefined): HttpCase => ({
  kind,
  method: 'POST',
  headers: withAccept(a, { 'content-type': 'application/json' }),
  body,
});
const opBody = (op: Operation): string => JSON.stringify(op);

const randomBytes = fc.tuple(fc.uint8Array({ maxLength: 2048 }), accept).map(([bytes, a]) => jsonPost('bytes', new Uint8Array(bytes), a));

const randomText = fc
  .tuple(fc.string({ unit: fc.oneof(fc.constantFrom(...NASTY_CHARS), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 400 }), accept)
  .map(([text, a]) => jsonPost('text', text, a));

/** A valid JSON body, then cut, or with a byte changed, or with a JSON token broken. */
const invalidJson = fc
  .tuple(anyOperation, fc.nat(), fc.constantFrom('cut', 'flip', 'trailing', 'comma', 'quote', 'nan', 'bom', 'concat'), accept)
  .map(([op, at, how, a]) => {
    const body = opBody(op);
    const i = at % Math.max(body.length, 1);
    const broken = {
      cut: body.slice(0, i),
      flip: body.slice(0, i) + String.fromCharCode((body.charCodeAt(i) ^ 0x20) || 1) + body.slice(i + 1),
      trailing: `${body},`,
      comma: body.replace(/}$/, ',}'),
      quote: body.slice(0, i) + '"' + body.slice(i),
      nan: body.replace(/}$/, ',"variables":{"n":NaN}}'),
      bom: `\ufeff${body}`,
      concat: body + body,
    }[how];
    return jsonPost('invalid-json', broken, a);
  });

/** Well-formed JSON of the wrong shape: batches, non-string queries, non-object variables. */
const wrongShape = fc
  .tuple(
    fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.array(anyOperation, { minLength: 0, maxLength: 4 }),
      fc.record({ query: fc.jsonValue({ maxDepth: 2 }) }),
      fc.record({ query: fc.constant('{ __typename }'), variables: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.array(fc.anything())) }),
      fc.record({ query: fc.constant('{ __typename }'), operationName: fc.jsonValue({ maxDepth: 1 }) }),
      fc.record({ query: fc.constant('{ __typename }'), extensions: fc.jsonValue({ maxDepth: 2 }) }),
      fc.record({ extensions: fc.constant({ persistedQuery: { version: 1, sha256Hash: 'abc' } }) }),
      fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 5 }),
      // Huge variables: many keys, long strings, long arrays (all under the byte limit).
      fc.integer({ min: 100, max: 4000 }).map((n) => ({
        query: 'query($id: ID!) { job(id: $id) { id } }',
        variables: { id: 'x', ...Object.fromEntries(Array.from({ length: n }, (_, i) => [`v${i}`, i])) },
      })),
      fc.integer({ min: 1000, max: 60_000 }).map((n) => ({ query: 'query($id: ID!) { job(id: $id) { id } }', variables: { id: 'x'.repeat(n) } })),
      fc.integer({ min: 100, max: 10_000 }).map((n) => ({
        query: 'mutation($in: SubmitQueryInput!) { submitQuery(input: $in) { job { id } } }',
        variables: { in: { sql: 'select 1', bindings: Array<number>(n).fill(1) } },
      })),
    ),
    accept,
  )
  .map(([value, a]) => jsonPost('wrong-shape', JSON.stringify(value) ?? 'undefined', a));

const mutatedPost = fc.tuple(anyOperation, accept).map(([op, a]) => jsonPost('document', opBody(op), a));

const CONTENT_TYPES = [
  null,
  'text/plain',
  'application/xml',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  'application/graphql',
  'application/graphql+json',
  'application/json; charset=utf-16',
  'application/json; charset=bogus',
  'application/json, text/plain',
  'APPLICATION/JSON',
  'application/jsonx',
  '*/*',
  'application/graphql-response+json',
] as const;

/** A body in one form, sent with a content type that may or may not match it. */
const wrongContentType = fc
  .tuple(
    anyOperation,
    fc.oneof(fc.constantFrom(...CONTENT_TYPES), fc.string({ unit: 'grapheme-ascii', maxLength: 30 })),
    fc.constantFrom('json', 'document', 'form', 'form-bad-json'),
    accept,
  )
  .map(([op, contentType, form, a]): HttpCase => {
    const params = new URLSearchParams({ query: op.query });
    if (op.variables) params.set('variables', JSON.stringify(op.variables));
    const body = {
      json: opBody(op),
      document: op.query,
      form: params.toString(),
      'form-bad-json': `query=${encodeAny(op.query)}&variables=${encodeURIComponent('{"id":')}`,
    }[form];
    // A Uint8Array body gets no default content type from fetch, so `null` really sends none.
    return {
      kind: 'content-type',
      method: 'POST',
      headers: withAccept(a, contentType === null ? {} : { 'content-type': contentType }),
      body: new TextEncoder().encode(body),
    };
  });

/** encodeURIComponent, but a lone surrogate becomes its (invalid UTF-8) WTF-8 bytes instead of throwing. */
function encodeAny(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|[^]/gu, (c) => {
    const unit = c.charCodeAt(0);
    if (c.length === 1 && unit >= 0xd800 && unit <= 0xdfff) {
      return [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    }
    return encodeURIComponent(c);
  });
}

/** Percent-encoded garbage, broken escapes and odd parameters in a GET query string. */
const searchPiece = fc.oneof(
  fc.string({ maxLength: 40, unit: fc.oneof(fc.constantFrom(...NASTY_CHARS), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })) }).map(encodeAny),
  fc.constantFrom('%', '%Z', '%ZZ', '%e2%82', '%ff%fe', '%00', '%ed%a0%80', '&', '=', '==', '&&', '+', '%2', '?', '#'.replace('#', '%23')),
  anyOperation.map((op) => `query=${encodeAny(op.query)}`),
  fc.jsonValue({ maxDepth: 2 }).map((v) => `variables=${encodeAny(JSON.stringify(v) ?? '')}`),
  fc.string({ maxLength: 20 }).map((s) => `variables=${encodeAny(s)}`),
  fc.string({ maxLength: 20 }).map((s) => `extensions=${encodeAny(s)}`),
  fc.string({ maxLength: 20 }).map((s) => `operationName=${encodeAny(s)}`),
  fc.integer({ min: 1000, max: 20_000 }).map((n) => `query=${'%7B'.repeat(n / 3)}`),
);
const garbageGet = fc
  .tuple(fc.array(searchPiece, { minLength: 0, maxLength: 6 }), fc.constantFrom('&', '', '&&'), accept)
  .map(([pieces, glue, a]): HttpCase => ({ kind: 'get', method: 'GET', search: pieces.join(glue), headers: withAccept(a) }));

/** Bodies within ±512 bytes of JOBQL_MAX_REQUEST_BYTES: padded variables, or a padded document. */
const nearLimit = fc
  .tuple(fc.integer({ min: -512, max: 512 }), fc.constantFrom('variables', 'comment', 'string'), accept)
  .map(([delta, where, a]) => {
    const target = MAX_REQUEST_BYTES + delta;
    const shell = {
      variables: (pad: string) => JSON.stringify({ query: '{ __typename }', variables: { pad } }),
      comment: (pad: string) => JSON.stringify({ query: `{ __typename } #${pad}` }),
      string: (pad: string) => JSON.stringify({ query: `{ job(id: "${pad}") { id } }` }),
    }[where];
    const body = shell('x'.repeat(Math.max(0, target - Buffer.byteLength(shell('')))));
    return jsonPost('near-limit', body, a);
  });

const otherMethod = fc
  .tuple(fc.constantFrom('PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'), mutatedOperation, accept)
  .map(([method, op, a]): HttpCase => ({
    kind: 'method',
    method,
    headers: withAccept(a, { 'content-type': 'application/json' }),
    ...(method === 'HEAD' ? {} : { body: opBody(op) }),
  }));

/** How a case prints in fast-check's counterexample: bodies near the byte limit are shortened (the seed replays them). */
function describeCase(c: HttpCase): string {
  const body = c.body === undefined ? '' : ` body=${preview(typeof c.body === 'string' ? c.body : `bytes:${Buffer.from(c.body).toString('hex')}`, 600)}`;
  const search = c.search === undefined ? '' : ` search=${preview(c.search, 600)}`;
  return `${c.kind} ${c.method} headers=${JSON.stringify(c.headers)}${search}${body}`;
}

const httpCase: fc.Arbitrary<HttpCase> = fc.oneof(
  { weight: 4, arbitrary: randomBytes },
  { weight: 4, arbitrary: randomText },
  { weight: 6, arbitrary: invalidJson },
  { weight: 6, arbitrary: wrongShape },
  { weight: 30, arbitrary: mutatedPost },
  { weight: 6, arbitrary: wrongContentType },
  { weight: 8, arbitrary: garbageGet },
  { weight: 2, arbitrary: nearLimit },
  { weight: 3, arbitrary: otherMethod },
).map((c) => Object.assign(c, { [fc.toStringMethod]: () => describeCase(c) }));

// ---------------------------------------------------------------------------------------------
// Checking answers
// ---------------------------------------------------------------------------------------------

interface GraphQLErrorJson {
  message?: unknown;
  path?: unknown;
  extensions?: { code?: unknown };
}

/** Every error carries a code of the closed set, and none is an unexpected (masked) error. */
function checkErrors(errors: unknown, where: string): string[] {
  assert.ok(Array.isArray(errors) && errors.length > 0, `${where}: errors is not a non-empty array: ${preview(errors)}`);
  const codes: string[] = [];
  for (const error of errors as GraphQLErrorJson[]) {
    const code = error?.extensions?.code;
    assert.ok(typeof code === 'string' && REQUEST_ERROR_CODES.has(code), `${where}: error without a code of the closed set: ${preview(error)}`);
    assert.equal(typeof error.message, 'string', `${where}: error without a message`);
    codes.push(code);
  }
  return codes;
}

/** A GraphQL response body: errors (typed) or data (a valid input). Returns its codes. */
function checkResult(value: unknown, where: string): string[] {
  assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), `${where}: not a JSON object: ${preview(value)}`);
  const result = value as { data?: unknown; errors?: unknown };
  if (result.errors !== undefined) return checkErrors(result.errors, where);
  assert.ok('data' in result && result.data !== null && typeof result.data === 'object', `${where}: neither errors nor data: ${preview(value)}`);
  return [];
}

/** The data: payloads of an SSE response's `next` events. */
function sseResults(text: string): unknown[] {
  const results: unknown[] = [];
  for (const block of text.split(/\n\n/)) {
    const lines = block.split('\n');
    const event = lines.find((l) => l.startsWith('event:'))?.slice(6).trim();
    const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
    if (event === 'next' || (event === undefined && data !== '')) results.push(JSON.parse(data));
  }
  return results;
}

/** yoga's urlencoded parser: does `variables` or `extensions` of these params fail to parse as JSON? */
function hasUnparsableJsonParam(params: string): boolean {
  const search = new URLSearchParams(params);
  return ['variables', 'extensions'].some((name) => {
    const value = search.get(name);
    if (!value) return false;
    try {
      JSON.parse(value);
      return false;
    } catch {
      return true;
    }
  });
}

function deviationOf(c: HttpCase, status: number, text: string): Deviation | null {
  if (status === 500) {
    const form = c.method === 'POST' && (c.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
    const params = c.method === 'GET' ? (c.search ?? '') : form ? new TextDecoder().decode(c.body as Uint8Array) : null;
    if (params !== null && hasUnparsableJsonParam(params)) return 'urlencoded-json-500';
  }
  // A HEAD answer has no body by definition: an empty one is not a deviation.
  if (c.method === 'HEAD') return null;
  if (text === '' && status === 415) return 'empty-415';
  if (text === '' && status === 406) return 'empty-406';
  if (text === '' && status === 431) return 'empty-431';
  return null;
}

interface Outcome {
  status: number;
  codes: string[];
  deviation: Deviation | null;
}

/** The codes of a JSON or event-stream body, checked. */
function bodyCodes(type: string, text: string, where: string): string[] {
  if (type.startsWith('text/event-stream')) {
    const results = sseResults(text);
    assert.ok(results.length > 0, `${where}: an event stream without a result: ${preview(text)}`);
    return results.flatMap((r) => checkResult(r, where));
  }
  assert.match(type, /^application\/(graphql-response\+)?json/, `${where}: content-type ${type}, body ${preview(text)}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`${where}: body is not JSON: ${preview(text)}`);
  }
  return checkResult(body, where);
}

async function send(c: HttpCase): Promise<Outcome> {
  const url = c.search === undefined ? server.url : `${server.url}?${c.search}`;
  const response = await fetch(url, {
    method: c.method,
    headers: c.headers,
    ...(c.body === undefined ? {} : { body: c.body }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  const { status } = response;
  const type = response.headers.get('content-type') ?? '';
  const deviation = deviationOf(c, status, text);
  if (deviation) {
    if (STRICT) assert.fail(`known deviation ${deviation}: ${KNOWN_DEVIATIONS[deviation]} (status ${status}, body ${preview(text)}, ${c.method} ${JSON.stringify(c.headers)})`);
    return { status, codes: text ? bodyCodes(type, text, `deviation ${deviation}`) : [], deviation };
  }
  const where = `${c.kind} ${c.method} → ${status}`;
  assert.ok(status < 500, `${where}: server error, body ${preview(text)}`);
  if (c.method === 'HEAD' || (c.method === 'OPTIONS' && status === 204)) return { status, codes: [], deviation: null };
  const codes = bodyCodes(type, text, where);
  assert.ok(!codes.includes('INTERNAL_SERVER_ERROR'), `${where}: INTERNAL_SERVER_ERROR for a malformed request: ${preview(text)}`);
  if (status >= 400) assert.ok(codes.length > 0, `${where}: a ${status} without errors`);
  return { status, codes, deviation: null };
}

// ---------------------------------------------------------------------------------------------
// The battery
// ---------------------------------------------------------------------------------------------

const byStatus = new Tally();
const byCode = new Tally();
const byKind = new Tally();
const deviations = new Tally();
const wsOutcomes = new Tally();
const wsCodes = new Tally();

/** The heap after a full collection, in MB (gc exposed at run time; the server runs in this process). */
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

const health = async (): Promise<number> => (await fetch(server.url.replace('/graphql', '/healthz'))).status;

describe('malformed GraphQL', () => {
  test(`${RUNS} malformed requests over HTTP: never a 5xx, always a typed error (or a valid result)`, { timeout: 240_000 }, async () => {
    console.log(`[battery] malformed-graphql seed=${BATTERY_SEED} runs=${RUNS} (replay with BATTERY_SEED=${BATTERY_SEED})`);
    const rssBefore = process.memoryUsage().rss;
    const heap: number[] = [heapMb()];
    const checkpoint = Math.max(1, Math.floor(RUNS / 5));
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(httpCase, async (c) => {
        const outcome = await send(c);
        byStatus.add(outcome.status);
        byKind.add(c.kind);
        for (const code of new Set(outcome.codes)) byCode.add(code);
        if (outcome.codes.length === 0) byCode.add('(data)');
        if (outcome.deviation) deviations.add(outcome.deviation);
        if (byStatus.total() % checkpoint === 0) heap.push(heapMb());
      }),
      { seed: BATTERY_SEED, numRuns: RUNS, endOnFailure: true },
    );
    const rssGrowthMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    console.log(
      `[battery] malformed-graphql http requests=${byStatus.total()} seconds=${Math.round((Date.now() - started) / 1000)} ` +
        `status=${byStatus} codes=${byCode} kinds=${byKind} knownDeviations=${deviations} ` +
        `rssGrowthMB=${rssGrowthMb.toFixed(0)} heapAfterGcMB=${heap.map((h) => h.toFixed(0)).join('/')}`,
    );
    assert.equal(byStatus.total(), RUNS);
    assert.equal(await health(), 200);
    // The server runs in this process, so the test's heap is the server's. It grows while yoga's
    // document caches fill (up to 1,024 parsed documents and 1,024 parse errors, kept an hour; see
    // the document-length limit) and levels off after ~8,000 of these requests (~750 MB with this 64 KiB
    // byte limit, measured with BATTERY_GRAPHQL_RUNS=20000). What must not grow is the memory
    // per request: replaying the same 300 requests three more times (cache hits only) must leave
    // the heap where it was.
    const replay = fc.sample(httpCase, { seed: BATTERY_SEED + 1, numRuns: 300 });
    for (const c of replay) await send(c);
    const warm = heapMb();
    for (let round = 0; round < 3; round++) for (const c of replay) await send(c);
    const steady = heapMb();
    console.log(`[battery] malformed-graphql replay requests=${replay.length * 4} heapAfterGcMB=${warm.toFixed(0)}→${steady.toFixed(0)}`);
    assert.ok(steady - warm < 32, `900 replayed requests grew the heap from ${warm.toFixed(0)} to ${steady.toFixed(0)} MB`);
  });

  test(`${WS_RUNS} mutated documents over one graphql-ws socket: each ends in error or next+complete; the socket stays open`, { timeout: 120_000 }, async () => {
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    let closed: { code: number; reason: string } | null = null;
    socket.on('close', (code, reason) => {
      closed = { code, reason: String(reason) };
    });
    interface Pending {
      nexts: number;
      codes: string[];
      done: (kind: string) => void;
      fail: (error: unknown) => void;
    }
    const waiting = new Map<string, Pending>();
    const onMessage = (message: { type: string; id?: string; payload?: unknown }, entry: Pending): void => {
      if (message.type === 'next') {
        entry.nexts += 1;
        entry.codes.push(...checkResult(message.payload, `ws next ${message.id}`));
      } else if (message.type === 'error') {
        entry.codes.push(...checkErrors(message.payload, `ws error ${message.id}`));
        entry.done('error');
        return;
      } else if (message.type === 'complete') {
        assert.ok(entry.nexts > 0, `ws ${message.id}: complete without next`);
        entry.done('next+complete');
        return;
      }
      assert.ok(!entry.codes.includes('INTERNAL_SERVER_ERROR'), `ws ${message.id}: INTERNAL_SERVER_ERROR ${preview(message.payload)}`);
    };
    const acked = new Promise<void>((resolve, reject) => {
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string; id?: string; payload?: unknown };
        if (message.type === 'connection_ack') return resolve();
        const entry = message.id === undefined ? undefined : waiting.get(message.id);
        if (!entry) return;
        try {
          onMessage(message, entry);
        } catch (error) {
          entry.fail(error);
        }
      });
      socket.once('close', (code) => reject(new Error(`closed ${code} before the ack`)));
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    await acked;

    let n = 0;
    await fc.assert(
      fc.asyncProperty(anyOperation, async (op) => {
        assert.equal(closed, null, `the socket closed: ${JSON.stringify(closed)}`);
        const id = `op-${n++}`;
        const outcome = await new Promise<{ kind: string; codes: string[] }>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`ws ${id}: no answer within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
          const onClose = (code: number): void => reject(new Error(`ws ${id}: the socket closed with ${code}`));
          const settle = (): void => {
            clearTimeout(timer);
            socket.off('close', onClose);
          };
          socket.once('close', onClose);
          const entry: Pending = {
            nexts: 0,
            codes: [],
            done: (kind) => {
              settle();
              resolve({ kind, codes: entry.codes });
            },
            fail: (error) => {
              settle();
              reject(error instanceof Error ? error : new Error(String(error)));
            },
          };
          waiting.set(id, entry);
          socket.send(JSON.stringify({ id, type: 'subscribe', payload: op }));
        }).finally(() => waiting.delete(id));
        assert.ok(!outcome.codes.includes('INTERNAL_SERVER_ERROR'), `ws ${id}: INTERNAL_SERVER_ERROR`);
        wsOutcomes.add(outcome.kind);
        for (const code of new Set(outcome.codes)) wsCodes.add(code);
        if (outcome.codes.length === 0) wsCodes.add('(data)');
      }),
      { seed: BATTERY_SEED, numRuns: WS_RUNS, endOnFailure: true },
    );
    // Still open and still serving: a valid operation after all of them.
    assert.equal(closed, null);
    assert.equal(socket.readyState, WebSocket.OPEN);
    console.log(`[battery] malformed-graphql ws operations=${wsOutcomes.total()} outcomes=${wsOutcomes} codes=${wsCodes} socketOpen=${socket.readyState === WebSocket.OPEN}`);
    socket.close(1000);
    assert.equal(await health(), 200);
  });
});

/** The contract each known deviation breaks, stated as a test; `todo` until the server is fixed. */
describe('known deviations (todo until fixed)', () => {
  test('a GET whose variables are not JSON is 400 BAD_REQUEST, not 500', async () => {
    const response = await fetch(`${server.url}?query=${encodeURIComponent('{ __typename }')}&variables=%7B`);
    assert.equal(response.status, 400);
  });
  test('a form body is refused with a JSON error (415), not 500', async () => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'query=%7B__typename%7D&variables=nope',
    });
    assert.equal(response.status, 415);
  });
  test('an unsupported content type is a JSON BAD_REQUEST', async () => {
    const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"query":"{ __typename }"}' });
    assert.equal(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code, 'BAD_REQUEST');
  });
  test('an unsatisfiable Accept header is a JSON BAD_REQUEST', async () => {
    const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'image/png' }, body: '{"query":"{ __typename }"}' });
    assert.equal(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code, 'BAD_REQUEST');
  });
  test('a request line over 16 KiB is a JSON error', async () => {
    const response = await fetch(`${server.url}?query=${'a'.repeat(20_000)}`);
    assert.ok(response.status < 500);
    assert.ok(((await response.json()) as { errors: unknown[] }).errors.length > 0);
  });
  test('distinct large documents are not kept: 100 of ~500 KB grow a fresh server\'s heap by less than 16 MB', async () => {
    // A fresh server with the default byte limit (1 MiB): the battery's server has full caches,
    // where a new document only evicts an old one.
    const fresh = await startServer();
    try {
      const pad = 'x'.repeat(500_000);
      const before = heapMb();
      for (let i = 0; i < 100; i++) {
        const response = await fetch(fresh.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: `{ job(id: "${i}-${pad}") { id } }` }),
        });
        await response.arrayBuffer();
      }
      const grown = heapMb() - before;
      assert.ok(grown < 16, `100 distinct documents of 500 KB grew the heap by ${grown.toFixed(0)} MB`);
    } finally {
      await fresh.stop();
    }
  });

  test('`first` passed as a variable counts toward the cost limit as a literal does', async () => {
    const literal = await gql(server.url, '{ jobs(first: 100) { nodes { result(first: 1000) { rows } } } }');
    assert.equal(literal.errors?.[0]?.extensions?.code, 'LIMIT_EXCEEDED');
    const variables = await gql(server.url, 'query($n: Int, $m: Int) { jobs(first: $n) { nodes { result(first: $m) { rows } } } }', { n: 100, m: 1000 });
    assert.equal(variables.errors?.[0]?.extensions?.code, 'LIMIT_EXCEEDED', JSON.stringify(variables).slice(0, 300));
  });
});
