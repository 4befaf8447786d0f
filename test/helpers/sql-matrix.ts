/**
 * The SQL cross-tenant matrix (test/battery/sql-isolation.test.ts, snowflake-isolation.test.ts):
 * every principal runs every attempt on every other, and the same attempt on something that does
 * not exist. An attempt on another principal must fail, and answer exactly as the one on nothing.
 */

/** What a job ended with, as a client could compare it. */
export interface Answer {
  code: string | null;
  message: string | null;
  rows: unknown[] | null;
}

/** The SQL against a victim, the victim's name or id in it, and what to put there for "nothing". */
export type Attempt<T> = (victim: T) => [sql: string, id: string, nothing: string];

/**
 * The answer as compared: without DuckDB's echo of the SQL under the message (`LINE 1: ...`, the
 * attacker's own text, cut at a width that splits ids), and with every `from` replaced by `to`.
 */
export function comparable(answer: Answer, from = '', to = ''): string {
  const message = answer.message?.replace(/\n\nLINE \d+:[\s\S]*$/, '') ?? null;
  const text = JSON.stringify({ code: answer.code, message, rows: answer.rows });
  return from === '' ? text : text.replaceAll(from, to);
}

export async function crossTenantMatrix<T extends { owner: string; token: string }>(
  tenants: readonly T[],
  attempts: Record<string, Attempt<T>>,
  run: (sql: string, token: string) => Promise<Answer>,
): Promise<{ count: number; succeeded: string[]; differed: string[] }> {
  let count = 0;
  const succeeded: string[] = [];
  const differed: string[] = [];
  for (const attacker of tenants) {
    for (const victim of tenants) {
      if (victim === attacker) continue;
      for (const [name, attempt] of Object.entries(attempts)) {
        const [sql, id, nothing] = attempt(victim);
        const onVictim = await run(sql, attacker.token);
        const onNothing = await run(sql.replaceAll(id, nothing), attacker.token);
        count += 1;
        const what = `${attacker.owner} → ${victim.owner}: ${name}`;
        if (onVictim.code === null) succeeded.push(what);
        if (comparable(onVictim, id, nothing) !== comparable(onNothing)) {
          differed.push(`${what}: ${comparable(onVictim)} vs ${comparable(onNothing)}`);
        }
      }
    }
  }
  return { count, succeeded, differed };
}
