/**
 * DuckDB's error classes as job errors, and the errors that mean the instance is poisoned (the
 * engine process is then replaced). No SQL reaches an INTERNAL error under the locked
 * configuration that we know of, so the messages are DuckDB's own, taken from its issue tracker.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isInstanceInvalidated, jobErrorFromDuckDB } from '../../src/warehouses/duckdb/duckdb-errors.ts';

const INTERNAL = 'INTERNAL Error: Failed to bind column reference "column0" [7.0] (bindings: [22.0])\nThis error signals an assertion failure within DuckDB.';
const INVALIDATED =
  'FATAL Error: Failed: database has been invalidated because of a previous fatal error. The database must be restarted prior to being used again.\nOriginal error: "INTERNAL Error: ..."';

test('an INTERNAL or FATAL error poisons the instance; SQL errors do not', () => {
  assert.equal(isInstanceInvalidated(INTERNAL), true);
  assert.equal(isInstanceInvalidated(INVALIDATED), true);
  for (const message of [
    'Catalog Error: Table with name nope does not exist!',
    'Out of Memory Error: could not allocate block of size 256.0 KiB',
    'INTERRUPT Error: Interrupted!',
    "Parser Error: syntax error at or near \"INTERNAL\"",
    'Invalid Input Error: the word FATAL Error: in a message is not the class',
    // What `select error('database has been invalidated')` gives: the SQL's text, not DuckDB's state.
    'Invalid Input Error: database has been invalidated because of a previous fatal error.',
  ]) {
    assert.equal(isInstanceInvalidated(message), false, message);
  }
});

test('DuckDB failing itself is a WAREHOUSE_ERROR, not the SQL\'s', () => {
  assert.deepEqual(jobErrorFromDuckDB(new Error(INTERNAL)), { code: 'WAREHOUSE_ERROR', sqlState: 'XX000', message: INTERNAL });
  assert.equal(jobErrorFromDuckDB(new Error(INVALIDATED)).code, 'WAREHOUSE_ERROR');
  assert.equal(jobErrorFromDuckDB(new Error('Catalog Error: Table with name nope does not exist!')).code, 'SQL_OBJECT_NOT_FOUND');
});
