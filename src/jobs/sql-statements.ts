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
      const close = sql.indexOf('*/', i + 2);
      i = close === -1 ? n : close + 2;
    } else if (c === "'" || c === '"') {
      const backslashEscapes = c === "'" && i > 0 && (sql[i - 1] === 'E' || sql[i - 1] === 'e');
      i = skipQuoted(sql, i, c, backslashEscapes);
      hasCode = true;
    } else if (c === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i, i + 64));
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
