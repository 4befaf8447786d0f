/**
 * Splits SQL text into its statements at top-level semicolons, skipping semicolons inside
 * '...' and E'...' strings, "..." identifiers, $tag$...$tag$ blocks and comments. It does not
 * validate SQL: the engine does that. Statements that hold only whitespace or comments are dropped.
 *
 * jobql needs each statement's own text to count a job's statements at submit time and to run
 * them one by one (DML counts per statement, MERGE rewritten to count inserts and updates apart).
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  let hasCode = false;
  const n = sql.length;

  const push = (end: number): void => {
    if (hasCode) statements.push(sql.slice(start, end).trim());
    start = end + 1;
    hasCode = false;
  };

  while (i < n) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const eol = sql.indexOf('\n', i + 2);
      i = eol === -1 ? n : eol + 1;
    } else if (c === '/' && next === '*') {
      i = skipBlockComment(sql, i);
    } else if (c === "'" || c === '"') {
      // E'...' is a string with backslash escapes only when the E is a token of its own (not the
      // end of an identifier such as `like'`).
      const backslashEscapes = c === "'" && /[Ee]/.test(sql[i - 1] ?? '') && !/[\w$]/.test(sql[i - 2] ?? '');
      i = skipQuoted(sql, i, c, backslashEscapes);
      hasCode = true;
    } else if (c === '$') {
      const tag = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
      if (tag && !/[\w$]/.test(sql[i - 1] ?? '')) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        i = close === -1 ? n : close + tag[0].length;
      } else {
        i += 1;
      }
      hasCode = true;
    } else if (c === ';') {
      push(i);
      i += 1;
    } else {
      if (c !== undefined && !/\s/.test(c)) hasCode = true;
      i += 1;
    }
  }
  push(n);
  return statements;
}

/** Block comments nest, as in DuckDB and PostgreSQL. */
function skipBlockComment(sql: string, open: number): number {
  let depth = 0;
  let i = open;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth += 1;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else {
      i += 1;
    }
  }
  return sql.length;
}

function skipQuoted(sql: string, open: number, quote: string, backslashEscapes: boolean): number {
  let i = open + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (backslashEscapes && c === '\\') {
      i += 2;
    } else if (c === quote) {
      if (sql[i + 1] === quote) i += 2; // a doubled quote is an escaped quote
      else return i + 1;
    } else {
      i += 1;
    }
  }
  return sql.length;
}
