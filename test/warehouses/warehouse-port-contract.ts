/**
 * The behavioural contract of the `Warehouse` port (src/warehouses/warehouse.ts), written against
 * the port alone and run on every adapter (warehouse-port.test.ts): no job service, poller or
 * GraphQL in between, so a failure here names the adapter, not the layers above it. (The suite in
 * warehouse-contract.test.ts checks the same warehouses end to end through a jobql server.)
 *
 * Where the adapters differ (by design, or where one departs from the port's docs today:
 * `missingResult`, `cancelAfterEnd`, `unknownIdGivenUpAfter`), the difference is a field of
 * `PortExpectations` that the tests assert explicitly, never a skipped test: an adapter that
 * changes its behaviour fails here until its expectations say so.
 *
 * Every wait is a bounded poll of `status()` (or of what a listener recorded), never a fixed sleep.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isQueryId, newJobId } from '../../src/core/ids.ts';
import type { JsonValue } from '../../src/core/job.ts';
import type { QueryState } from '../../src/core/results.ts';
import { isTerminal, type JobStatus } from '../../src/core/status.ts';
import type { SubmitRequest, Warehouse } from '../../src/warehouses/warehouse.ts';

export interface OpenedPortWarehouse {
  warehouse: Warehouse;
  close(): Promise<void>;
}

/** What an adapter does where the port leaves room, or where the adapters are known to differ. */
export interface PortExpectations {
  /** The type names `readResult` gives for DuckDB's INTEGER (`select 42`) and BIGINT (`range()`). */
  types: { integer: string; bigint: string };
  /**
   * Whether `onChange` listeners are called: the embedded engine pushes every state change;
   * Snowflake tells nothing unasked, so its listeners are never called (the poller finds changes).
   */
  pushesChanges: boolean;
  /**
   * Whether `describe` of a query this warehouse ran gives its text (Snowflake's query history).
   * The embedded engine answers null for every id: its queries are all jobql's own jobs.
   */
  describesQueries: boolean;
  /** Whether `deleteResult` frees the result (DuckDB) or is a no-op (Snowflake expires results itself). */
  deletesResults: boolean;
  /**
   * What `readResult` and `downloadResult` do where the warehouse holds no result (an unknown id,
   * a failed query). The port says null; 'rejects' records an adapter that throws instead, so the
   * deviation is visible here and fails the suite the day it is fixed or spreads.
   */
  missingResult: 'null' | 'rejects';
  /**
   * What `cancel` does for a query that has already ended (or that the warehouse does not know).
   * The port leaves it open ("the outcome is reported through status"); 'rejects' records an
   * adapter that throws (the job service catches and logs it), so a change either way shows here.
   */
  cancelAfterEnd: 'resolves' | 'rejects';
  /**
   * After how many asks `status` stops leaving out an id it does not know and reports it ended
   * (FAILED_WITH_INCIDENT, WAREHOUSE_ERROR); null for never. Snowflake's monitoring may not know
   * a query for a moment after it was accepted, so its adapter waits a number of misses, then
   * gives the query up; the embedded engine leaves an unknown id out however often it is asked.
   */
  unknownIdGivenUpAfter: number | null;
  /** The port's flags (warehouse.ts): checked as declared, and by behaviour. */
  forgetsOnRestart: boolean;
  idempotentSubmit: boolean;
  /** SQL that runs until it is cancelled (or for far longer than any test). */
  endlessSql: string;
}

/** How long any awaited condition may take, and how often it is checked. */
const DEADLINE_MS = 20_000;
const POLL_MS = 20;

/** A well-formed query id no warehouse was ever given. */
const UNKNOWN_QUERY_ID = '01234567-89ab-4def-8123-456789abcdef';

function request(statements: string[], extra: Partial<SubmitRequest> = {}): SubmitRequest {
  return { jobId: newJobId(), owner: 'local', runAs: null, statements, bindings: [], timeoutSeconds: 60, tag: null, ...extra };
}

const describeState = (state: QueryState | undefined): string =>
  state ? `${state.status}${state.error ? ` (${state.error.code}: ${state.error.message})` : ''}` : 'absent from status()';

/**
 * Polls `status([queryId])` every POLL_MS until `done` holds of the state, and returns it; fails
 * after DEADLINE_MS naming what was awaited and the last state seen.
 */
async function waitForState(
  warehouse: Warehouse,
  queryId: string,
  done: (state: QueryState) => boolean,
  what: string,
): Promise<QueryState> {
  const deadline = Date.now() + DEADLINE_MS;
  let last: QueryState | undefined;
  for (;;) {
    last = (await warehouse.status([queryId])).get(queryId);
    if (last && done(last)) return last;
    if (Date.now() >= deadline) {
      assert.fail(`query ${queryId}: timed out after ${DEADLINE_MS} ms waiting for ${what}; last seen: ${describeState(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

const waitForEnd = (warehouse: Warehouse, queryId: string): Promise<QueryState> =>
  waitForState(warehouse, queryId, (s) => isTerminal(s.status), 'a terminal status');

/** Polls `condition` (what a listener recorded, say) like waitForState polls status(). */
async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!condition()) {
    if (Date.now() >= deadline) assert.fail(`timed out after ${DEADLINE_MS} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function textOf(body: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function assertSuccess(state: QueryState, what: string): void {
  assert.equal(state.status, 'SUCCESS', `${what}: ${describeState(state)}`);
  assert.equal(state.error, null);
}

export function warehousePortContract(
  name: string,
  open: () => Promise<OpenedPortWarehouse>,
  expects: PortExpectations,
): void {
  describe(`the Warehouse port contract on ${name}`, () => {
    let opened: OpenedPortWarehouse;
    let warehouse: Warehouse;

    /** Submits and waits for the end; returns the query id and its final state. */
    async function run(statements: string[], extra: Partial<SubmitRequest> = {}): Promise<{ queryId: string; state: QueryState }> {
      const queryId = await warehouse.submit(request(statements, extra));
      return { queryId, state: await waitForEnd(warehouse, queryId) };
    }

    /** A query id whose query ended SUCCESS with `select range as n from range(25)`. */
    let rangeQuery: Promise<string> | null = null;
    const range25 = (): Promise<string> =>
      (rangeQuery ??= run(['select range as n from range(25) order by n']).then(({ queryId, state }) => {
        assertSuccess(state, 'range(25)');
        return queryId;
      }));

    before(async () => {
      opened = await open();
      warehouse = opened.warehouse;
    });
    after(async () => {
      await opened?.close();
    });

    test('submit returns a query id in Snowflake’s UUID form, a new one per submit', async () => {
      const first = await warehouse.submit(request(['select 1 as one']));
      const second = await warehouse.submit(request(['select 1 as one']));
      assert.ok(isQueryId(first), `isQueryId(${JSON.stringify(first)})`);
      assert.ok(isQueryId(second), `isQueryId(${JSON.stringify(second)})`);
      assert.notEqual(first, second);
      assertSuccess(await waitForEnd(warehouse, first), 'first');
      assertSuccess(await waitForEnd(warehouse, second), 'second');
    });

    test('status: select 42 ends SUCCESS with start and end times, no error, no DML', async () => {
      const before = Date.now();
      const { queryId, state } = await run(['select 42 as answer']);
      assertSuccess(state, 'select 42');
      assert.ok(state.startedAt instanceof Date, `startedAt is a Date: ${String(state.startedAt)}`);
      assert.ok(state.endedAt instanceof Date, `endedAt is a Date: ${String(state.endedAt)}`);
      assert.ok(state.startedAt.getTime() <= state.endedAt.getTime(), 'started before it ended');
      // A second of slack either side: the clocks compared are this process's and the adapter's.
      assert.ok(state.startedAt.getTime() >= before - 1000, 'started after it was submitted');
      assert.ok(state.endedAt.getTime() <= Date.now() + 1000, 'ended before it was seen ended');
      assert.equal(state.dml, null, 'a SELECT changes no rows');
      // A terminal state does not change when asked again.
      const again = (await warehouse.status([queryId])).get(queryId);
      assert.equal(again?.status, 'SUCCESS');
    });

    test('status: several ids at once; a well-formed but unknown id is left out of the map', async () => {
      const a = await run(['select 1 as a']);
      const b = await run(['select 2 as b']);
      assert.equal(isQueryId(UNKNOWN_QUERY_ID), true, 'the unknown id is well-formed');
      const states = await warehouse.status([a.queryId, UNKNOWN_QUERY_ID, b.queryId]);
      assert.deepEqual([...states.keys()].sort(), [a.queryId, b.queryId].sort());
      assert.equal(states.get(a.queryId)?.status, 'SUCCESS');
      assert.equal(states.get(b.queryId)?.status, 'SUCCESS');
      assert.equal(states.has(UNKNOWN_QUERY_ID), false);
      assert.equal((await warehouse.status([])).size, 0, 'asking for nothing gives nothing');
    });

    test(`status of an unknown id asked again and again: ${expects.unknownIdGivenUpAfter === null ? 'always left out' : `left out, then given up at ask ${expects.unknownIdGivenUpAfter}`}`, async () => {
      const unknown = globalThis.crypto.randomUUID();
      const asks = expects.unknownIdGivenUpAfter ?? 30;
      for (let ask = 1; ask < asks; ask++) {
        const seen = (await warehouse.status([unknown])).get(unknown);
        assert.equal(seen, undefined, `ask ${ask}: ${describeState(seen)}`);
      }
      const last = (await warehouse.status([unknown])).get(unknown);
      if (expects.unknownIdGivenUpAfter === null) assert.equal(last, undefined, `ask ${asks}: ${describeState(last)}`);
      else {
        assert.equal(last?.status, 'FAILED_WITH_INCIDENT', `ask ${asks}: ${describeState(last)}`);
        assert.equal(last.error?.code, 'WAREHOUSE_ERROR');
        assert.ok(last.endedAt instanceof Date);
      }
    });

    test(`onChange: listeners are ${expects.pushesChanges ? 'called as a query changes state' : 'never called (changes are found by polling)'}`, async () => {
      const seen: string[] = [];
      /** What status() said at each call for the watched query: the poller asks at once. */
      const statusAtCall: Promise<JobStatus | undefined>[] = [];
      let watched: string | null = null;
      const stop = warehouse.onChange((queryId) => {
        seen.push(queryId);
        if (queryId === watched) statusAtCall.push(warehouse.status([queryId]).then((m) => m.get(queryId)?.status));
      });
      assert.equal(typeof stop, 'function', 'onChange returns the function that removes the listener');
      let removed = false;
      try {
        const queryId = await warehouse.submit(request(['select 42 as answer']));
        watched = queryId;
        assertSuccess(await waitForEnd(warehouse, queryId), 'select 42');
        if (expects.pushesChanges) {
          await waitUntil(() => seen.includes(queryId), `the listener to be called for ${queryId}`);
          // The last call's status() already holds the end: a poller nudged by it sees SUCCESS.
          await waitUntil(() => statusAtCall.length > 0, 'status() asked from the listener');
          const statuses = await Promise.all(statusAtCall);
          assert.equal(statuses.at(-1), 'SUCCESS', `status() at each call: ${statuses.join(', ')}`);
          // Removed, it hears nothing of the next query.
          stop();
          removed = true;
          const countBefore = seen.length;
          const next = await run(['select 43 as answer']);
          assertSuccess(next.state, 'select 43');
          assert.equal(seen.length, countBefore, `a removed listener was called: ${seen.slice(countBefore).join(', ')}`);
        } else {
          // The whole life of a query went by (status() found its end); nothing was pushed.
          assert.deepEqual(seen, [], 'this adapter does not push changes');
        }
      } finally {
        if (!removed) stop();
      }
    });

    test('readResult: columns with names and types, and the rows with their values', async () => {
      const { queryId, state } = await run(['select 42 as answer']);
      assertSuccess(state, 'select 42');
      const page = await warehouse.readResult(queryId, 0, 10);
      assert.ok(page, 'a finished query has a result');
      assert.deepEqual(
        page.columns.map((c) => ({ name: c.name.toLowerCase(), type: c.type })),
        [{ name: 'answer', type: expects.types.integer }],
      );
      assert.equal(typeof page.columns[0]?.nullable, 'boolean');
      assert.deepEqual(page.rows, [[42]]);
      assert.equal(page.totalRows, 1);
      assert.equal(page.offset, 0);
      assert.equal(page.truncated, false);
    });

    test('readResult: offsets page over range(25): 0-10, 10-20, 20-25, then past the end', async () => {
      const queryId = await range25();
      const numbers = (from: number, to: number): JsonValue[][] => Array.from({ length: to - from }, (_, i) => [from + i]);
      const pages: [number, number, JsonValue[][]][] = [
        [0, 10, numbers(0, 10)],
        [10, 10, numbers(10, 20)],
        [20, 10, numbers(20, 25)],
        [25, 10, []],
        [100, 10, []],
        [3, 4, numbers(3, 7)],
      ];
      for (const [offset, limit, rows] of pages) {
        const page = await warehouse.readResult(queryId, offset, limit);
        assert.ok(page, `a page at ${offset}`);
        assert.deepEqual(page.rows, rows, `rows of the page at offset ${offset}, limit ${limit}`);
        assert.equal(page.totalRows, 25, `totalRows at offset ${offset}`);
        assert.equal(page.offset, offset, 'the page says where it starts');
        assert.equal(page.truncated, false);
        assert.deepEqual(
          page.columns.map((c) => ({ name: c.name.toLowerCase(), type: c.type })),
          [{ name: 'n', type: expects.types.bigint }],
          `columns at offset ${offset} (also for an empty page)`,
        );
      }
    });

    test(`readResult and downloadResult where there is no result: ${expects.missingResult === 'null' ? 'null' : 'rejected'}`, async () => {
      const failed = await run(['select * from no_such_table']);
      assert.equal(failed.state.status, 'FAILED_WITH_ERROR');
      for (const [what, queryId] of [
        ['an unknown query id', UNKNOWN_QUERY_ID],
        ['a failed query', failed.queryId],
      ] as const) {
        const read = warehouse.readResult(queryId, 0, 10);
        const download = warehouse.downloadResult(queryId, 'csv');
        if (expects.missingResult === 'null') {
          assert.equal(await read, null, `readResult of ${what}`);
          assert.equal(await download, null, `downloadResult of ${what}`);
        } else {
          await assert.rejects(read, `readResult of ${what} rejects`);
          await assert.rejects(download, `downloadResult of ${what} rejects`);
        }
      }
    });

    test('a failing statement ends FAILED_WITH_ERROR with SQL_OBJECT_NOT_FOUND', async () => {
      const { state } = await run(['select * from no_such_table']);
      assert.equal(state.status, 'FAILED_WITH_ERROR', describeState(state));
      assert.equal(state.error?.code, 'SQL_OBJECT_NOT_FOUND');
      assert.match(state.error?.message ?? '', /no_such_table/);
      assert.ok(state.endedAt instanceof Date, 'a failed query has its end time');
      assert.equal(state.dml, null);
    });

    test('cancel: a running query ends ABORTED with QUERY_CANCELLED', async () => {
      const jobId = newJobId();
      const queryId = await warehouse.submit({ ...request([expects.endlessSql]), jobId });
      await waitForState(warehouse, queryId, (s) => s.status === 'RUNNING' || isTerminal(s.status), 'RUNNING');
      await warehouse.cancel(jobId, queryId);
      const state = await waitForEnd(warehouse, queryId);
      assert.equal(state.status, 'ABORTED', describeState(state));
      assert.equal(state.error?.code, 'QUERY_CANCELLED');
      assert.ok(state.endedAt instanceof Date);
    });

    test(`cancel after the end ${expects.cancelAfterEnd}, and changes nothing; a job with no query id yet is harmless`, async () => {
      const jobId = newJobId();
      const cancelled = await warehouse.submit({ ...request([expects.endlessSql]), jobId });
      await waitForState(warehouse, cancelled, (s) => s.status === 'RUNNING' || isTerminal(s.status), 'RUNNING');
      await warehouse.cancel(jobId, cancelled);
      assert.equal((await waitForEnd(warehouse, cancelled)).status, 'ABORTED');
      const done = await run(['select 1 as one']);
      assertSuccess(done.state, 'select 1');
      for (const [what, call] of [
        ['a cancelled query, again', () => warehouse.cancel(jobId, cancelled)],
        ['a finished query', () => warehouse.cancel(newJobId(), done.queryId)],
        ['an unknown query id', () => warehouse.cancel(newJobId(), UNKNOWN_QUERY_ID)],
      ] as const) {
        if (expects.cancelAfterEnd === 'resolves') await assert.doesNotReject(call(), `cancel of ${what}`);
        else await assert.rejects(call(), `cancel of ${what} rejects`);
      }
      // Without a query id the adapter stops what it finds by job id: nothing, for an unknown job.
      await assert.doesNotReject(warehouse.cancel(newJobId(), null), 'cancel of an unknown job without a query id');
      assert.equal((await warehouse.status([cancelled])).get(cancelled)?.status, 'ABORTED', 'an ended query stays ended');
      assert.equal((await warehouse.status([done.queryId])).get(done.queryId)?.status, 'SUCCESS', 'an ended query stays ended');
    });

    test('timeoutSeconds: a query past its timeout ends FAILED_WITH_ERROR with STATEMENT_TIMEOUT', async () => {
      const { state } = await run([expects.endlessSql], { timeoutSeconds: 1 });
      assert.equal(state.status, 'FAILED_WITH_ERROR', describeState(state));
      assert.equal(state.error?.code, 'STATEMENT_TIMEOUT');
    });

    test('multi-statement with DML: the counts add up over the statements, the result is the last one’s', async () => {
      const table = `port_contract_${newJobId().slice(4, 16)}`;
      const { queryId, state } = await run([
        `create table ${table} (x integer)`,
        `insert into ${table} values (1), (2), (3)`,
        `select x from ${table} order by x`,
      ]);
      assertSuccess(state, 'create, insert, select');
      // QueryState.dml: rows changed by every statement of the query; the CREATE and the SELECT count none.
      assert.deepEqual(state.dml, { rowsInserted: 3, rowsUpdated: 0, rowsDeleted: 0 });
      const page = await warehouse.readResult(queryId, 0, 10);
      assert.ok(page);
      assert.deepEqual(page.columns.map((c) => c.name.toLowerCase()), ['x']);
      assert.deepEqual(page.rows, [[1], [2], [3]]);
      const changes = await run([
        `update ${table} set x = x + 10 where x > 1`,
        `delete from ${table} where x = 1`,
        `select count(*) as n from ${table}`,
      ]);
      assertSuccess(changes.state, 'update, delete, select');
      assert.deepEqual(changes.state.dml, { rowsInserted: 0, rowsUpdated: 2, rowsDeleted: 1 });
      assert.deepEqual((await warehouse.readResult(changes.queryId, 0, 10))?.rows, [[2]]);
    });

    test('bindings: positional values reach the statement', async () => {
      const { queryId, state } = await run(['select ? + 1 as n, ? as s'], { bindings: [41, 'x'] });
      assertSuccess(state, 'bound select');
      assert.deepEqual((await warehouse.readResult(queryId, 0, 10))?.rows, [[42, 'x']]);
    });

    test('downloadResult: a CSV stream with the header and every value', async () => {
      const { queryId, state } = await run(['select 42 as answer']);
      assertSuccess(state, 'select 42');
      const download = await warehouse.downloadResult(queryId, 'csv');
      assert.ok(download, 'a finished query can be downloaded');
      assert.equal(download.format, 'csv');
      assert.match(await textOf(download.body), /^answer\r?\n42\r?\n$/i);

      const range = await warehouse.downloadResult(await range25(), 'csv');
      assert.ok(range);
      const lines = (await textOf(range.body)).split(/\r?\n/).filter(Boolean);
      assert.equal(lines[0]?.toLowerCase(), 'n', 'the header');
      assert.deepEqual(lines.slice(1), Array.from({ length: 25 }, (_, i) => String(i)), 'every row, in order');
    });

    test(`describe: ${expects.describesQueries ? 'a query it ran gives its text' : 'null for every id'}; null for an unknown id`, async () => {
      const single = await run(['select 42 as answer']);
      const multi = await run(['select 1 as first', "select 'last' as second"]);
      if (expects.describesQueries) {
        assert.deepEqual(await warehouse.describe(single.queryId), { queryText: 'select 42 as answer' });
        const text = (await warehouse.describe(multi.queryId))?.queryText ?? '';
        assert.match(text, /select 1 as first;\s*select 'last' as second/, 'a multi-statement query’s whole text');
      } else {
        assert.equal(await warehouse.describe(single.queryId), null);
        assert.equal(await warehouse.describe(multi.queryId), null);
      }
      assert.equal(await warehouse.describe(UNKNOWN_QUERY_ID), null);
    });

    test(`deleteResult: ${expects.deletesResults ? 'the result is gone afterwards' : 'a no-op, the result stays readable'}`, async () => {
      const { queryId, state } = await run(['select 42 as answer']);
      assertSuccess(state, 'select 42');
      assert.deepEqual((await warehouse.readResult(queryId, 0, 10))?.rows, [[42]]);
      await warehouse.deleteResult(queryId);
      const page = await warehouse.readResult(queryId, 0, 10);
      const download = await warehouse.downloadResult(queryId, 'csv');
      if (expects.deletesResults) {
        assert.equal(page, null, 'readResult after deleteResult');
        assert.equal(download, null, 'downloadResult after deleteResult');
      } else {
        assert.deepEqual(page?.rows, [[42]], 'readResult after deleteResult');
        assert.ok(download, 'downloadResult after deleteResult');
        assert.match(await textOf(download.body), /42/);
      }
      // Deleting again, or an id that never had a result, is not an error.
      await warehouse.deleteResult(queryId);
      await warehouse.deleteResult(UNKNOWN_QUERY_ID);
      // The query's state is not the result: status() still reports it.
      assert.equal((await warehouse.status([queryId])).get(queryId)?.status, 'SUCCESS');
    });

    test(`idempotentSubmit is ${expects.idempotentSubmit}: the same job submitted twice ${expects.idempotentSubmit ? 'is the same query' : 'runs twice'}`, async () => {
      assert.equal(warehouse.idempotentSubmit, expects.idempotentSubmit);
      // The repeat a restart makes: the same job (the same job id) after the first submit returned.
      const again = request(['select 42 as answer']);
      const first = await warehouse.submit(again);
      assertSuccess(await waitForEnd(warehouse, first), 'first submit');
      const second = await warehouse.submit(again);
      if (expects.idempotentSubmit) {
        assert.equal(second, first, 'the repeated submit found the query already there');
      } else {
        // Another query ran. How it ends is not the port's to say (the job service never repeats a
        // submit on such a warehouse); it must end, and must not spoil the first one's result.
        assert.notEqual(second, first, 'the repeated submit started another query');
        assert.ok(isQueryId(second));
        await waitForEnd(warehouse, second);
      }
      assert.equal((await warehouse.status([first])).get(first)?.status, 'SUCCESS');
      assert.deepEqual((await warehouse.readResult(first, 0, 10))?.rows, [[42]], 'the first submit’s result');
    });

    test(`forgetsOnRestart is ${expects.forgetsOnRestart}: a newly opened warehouse ${expects.forgetsOnRestart ? 'does not know' : 'still knows'} an earlier one’s query`, async () => {
      assert.equal(warehouse.forgetsOnRestart, expects.forgetsOnRestart);
      const { queryId, state } = await run(['select 42 as answer']);
      assertSuccess(state, 'select 42');
      const restarted = await open();
      try {
        const seen = (await restarted.warehouse.status([queryId])).get(queryId);
        if (expects.forgetsOnRestart) assert.equal(seen, undefined, `the new warehouse knew ${queryId}: ${describeState(seen)}`);
        else {
          assert.equal(seen?.status, 'SUCCESS', `after a restart: ${describeState(seen)}`);
          assert.deepEqual((await restarted.warehouse.readResult(queryId, 0, 10))?.rows, [[42]]);
        }
      } finally {
        await restarted.close();
      }
    });

    test('name is a non-empty label', () => {
      assert.equal(typeof warehouse.name, 'string');
      assert.ok(warehouse.name.length > 0);
    });
  });
}
