/** The statement splitter agrees with DuckDB's own parser on where statements end. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { splitStatements } from '../../src/jobs/sql-statements.ts';

test('splits at top-level semicolons only', () => {
  assert.deepEqual(splitStatements('select 1; select 2'), ['select 1', 'select 2']);
  assert.deepEqual(splitStatements("select 'a;b'; select \"c;d\" from t"), ["select 'a;b'", 'select "c;d" from t']);
  assert.deepEqual(splitStatements("select 'it''s; fine'"), ["select 'it''s; fine'"]);
  assert.deepEqual(splitStatements("select E'a\\';b'; select 2"), ["select E'a\\';b'", 'select 2']);
  assert.deepEqual(splitStatements('select $$a;b$$, $tag$c;d$tag$; select 2'), ['select $$a;b$$, $tag$c;d$tag$', 'select 2']);
  assert.deepEqual(splitStatements('select 1 -- no; split\n; select /* ; */ 2'), ['select 1 -- no; split', 'select /* ; */ 2']);
  assert.deepEqual(splitStatements('select $1, $2; select 3'), ['select $1, $2', 'select 3']);
});

test('drops statements that are only whitespace or comments', () => {
  assert.deepEqual(splitStatements(''), []);
  assert.deepEqual(splitStatements(' ;; -- x\n ; /* y */'), []);
  assert.deepEqual(splitStatements('select 1;;\n-- trailing comment'), ['select 1']);
});

test('an unterminated string or comment swallows the rest rather than splitting in it', () => {
  assert.deepEqual(splitStatements("select 'open; select 2"), ["select 'open; select 2"]);
  assert.deepEqual(splitStatements('select 1 /* open; select 2'), ['select 1 /* open; select 2']);
});

test('counts the same statements as DuckDB', async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const corpus = [
    'select 1',
    'select 1; select 2;',
    "select ';' as semi; select 'x'",
    'create table t (a int); insert into t values (1); select * from t',
    "select $$;$$; select E'\\\\'; select 3",
    'select 1 -- a; b\n; select 2 /* c; d */',
    'select "a;b" from (select 1 as "a;b")',
    "select 'a' like'a\\'; select 2",
    'select 1 /* a /* b */ ; */; select 2',
    'select $f1$a;b$f1$; select 3',
  ];
  try {
    for (const sql of corpus) {
      const extracted = await connection.extractStatements(sql);
      assert.equal(splitStatements(sql).length, extracted.count, sql);
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
});
