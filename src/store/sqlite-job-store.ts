import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { Job, JobStatusEvent } from '../core/job.ts';
import type { JobStatus } from '../core/status.ts';
import type { JobFilter, JobPage, JobPatch, JobStore, Lease, NewJob } from './job-store.ts';
import {
  eventFromTransitionRow,
  INSERT_JOB,
  jobFromRow,
  type JobRow,
  newJobValues,
  pageOf,
  patchAssignments,
  SNAPSHOT_COLUMNS,
  TERMINAL_SQL_LIST as TERMINAL_LIST,
  type TimeColumns,
  TRANSITIONS_AFTER,
  TRANSITIONS_KEPT_PER_JOB,
  type TransitionRow,
} from './job-rows.ts';

/**
 * The embedded JobStore: one SQLite file (Node's built-in `node:sqlite`), WAL mode. A process crash
 * (kill -9) loses no committed write; `synchronous=NORMAL` trades only a power loss's last commits.
 */
const MIGRATIONS = [
  `CREATE TABLE jobs (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     query_id TEXT,
     query_text TEXT NOT NULL,
     bindings TEXT NOT NULL,
     tag TEXT,
     timeout_seconds INTEGER,
     statement_count INTEGER NOT NULL,
     status TEXT NOT NULL,
     previous_status TEXT,
     sequence INTEGER NOT NULL,
     status_changed_at INTEGER NOT NULL,
     submitted_at INTEGER NOT NULL,
     dispatched_at INTEGER,
     started_at INTEGER,
     ended_at INTEGER,
     error TEXT,
     progress TEXT,
     dml TEXT
   );
   CREATE INDEX jobs_by_status ON jobs (status, seq);
   CREATE INDEX jobs_by_tag ON jobs (tag, seq);`,
  // Result expiry: when the result stops being readable, and whether it was deleted yet.
  `ALTER TABLE jobs ADD COLUMN result_expires_at INTEGER;
   ALTER TABLE jobs ADD COLUMN result_deleted INTEGER NOT NULL DEFAULT 0;
   CREATE INDEX jobs_by_result_expiry ON jobs (result_expires_at) WHERE result_deleted = 0;`,
  // attachQuery finds the job of a query id.
  `CREATE INDEX jobs_by_query_id ON jobs (query_id) WHERE query_id IS NOT NULL;`,
  // Tenancy: every job has an owner (jobs from before authentication belong to open mode's
  // principal), and a submission may carry an idempotency key, unique per owner.
  `ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT 'local';
   ALTER TABLE jobs ADD COLUMN idempotency_key TEXT;
   CREATE INDEX jobs_by_owner ON jobs (owner, seq);
   CREATE UNIQUE INDEX jobs_by_idempotency_key ON jobs (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;`,
  // Polling leases (see JobStore.acquireLeases); one instance holds them all here, but the job
  // service works the same way on every store.
  `ALTER TABLE jobs ADD COLUMN lease_holder TEXT;
   ALTER TABLE jobs ADD COLUMN lease_until INTEGER;`,
  // Every transition of every job from here on (insert and transition write them in their own
  // transaction), so a subscriber that reconnects gets the ones it missed (jobStatus afterSequence).
  // Jobs from before have no history: resuming one sends its current state.
  `CREATE TABLE job_transitions (
     job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
     sequence INTEGER NOT NULL,
     status TEXT NOT NULL,
     previous_status TEXT,
     at INTEGER NOT NULL,
     snapshot TEXT NOT NULL,
     PRIMARY KEY (job_id, sequence)
   );`,
  // The unwatched-job cancel (its setting, and when someone last watched the job) and the
  // completion webhook's delivery record.
  `ALTER TABLE jobs ADD COLUMN cancel_if_unwatched_seconds INTEGER;
   ALTER TABLE jobs ADD COLUMN watched_at INTEGER;
   ALTER TABLE jobs ADD COLUMN notification TEXT;
   CREATE INDEX jobs_watched ON jobs (seq) WHERE cancel_if_unwatched_seconds IS NOT NULL AND status NOT IN (${TERMINAL_LIST});
   CREATE INDEX jobs_notified ON jobs (ended_at) WHERE notification IS NOT NULL;`,
  // The warehouse identity a job runs as (Snowflake identities per principal).
  `ALTER TABLE jobs ADD COLUMN run_as TEXT;`,
  // Unfinished jobs only, so that admission (a principal's active jobs), the lease scan and
  // recovery cost what is running, not what a principal ever ran. The predicates are spelled as
  // the queries spell them (TERMINAL_LIST), for the planner to match them (a test checks it).
  `CREATE INDEX jobs_unfinished_by_owner ON jobs (owner, seq) WHERE status NOT IN (${TERMINAL_LIST});
   CREATE INDEX jobs_unfinished ON jobs (seq) WHERE status NOT IN (${TERMINAL_LIST});`,
];

type Row = JobRow<number>;
type History = TransitionRow<number>;

/** SQLite keeps times as epoch milliseconds. */
const MILLIS: TimeColumns<number> = { read: (ms) => new Date(ms), write: (date) => date.getTime() };

const toJob = (row: Row): Job => jobFromRow(row, MILLIS);

/** Column assignments for a patch; undefined fields are left alone. */
function patchColumns(patch: JobPatch): [string[], SQLInputValue[]] {
  const sets = patchAssignments(patch, MILLIS);
  return [sets.map(([column]) => `${column} = ?`), sets.map(([, value]) => value)];
}

/** The shared insert, with SQLite's numbered parameters (`?9` is `$9`). */
const INSERT = INSERT_JOB.replaceAll('$', '?');

const RECORD_TRANSITION = `INSERT INTO job_transitions (job_id, sequence, status, previous_status, at, snapshot) VALUES (?, ?, ?, ?, ?, ?)`;
const TRIM_TRANSITIONS = `DELETE FROM job_transitions WHERE job_id = ? AND sequence <= ?`;
const HISTORY = TRANSITIONS_AFTER.replaceAll('$', '?');

/** A transition's snapshot: the row's columns but the unchanging ones, times in epoch milliseconds as in the row. */
const snapshotOf = (row: Row): string => JSON.stringify(Object.fromEntries(SNAPSHOT_COLUMNS.map((column) => [column, row[column]])));

/** A write waiting for the next commit (see #moved). */
interface Move {
  sql: string;
  params: SQLInputValue[];
  resolve: (job: Job | null) => void;
  reject: (error: unknown) => void;
}

export class SqliteJobStore implements JobStore {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  #moves: Move[] = [];
  #commitSoon: NodeJS.Immediate | null = null;

  constructor(file: string) {
    this.#db = new DatabaseSync(file);
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;');
    this.#migrate();
  }

  #migrate(): void {
    const row = this.#db.prepare('PRAGMA user_version').get() as { user_version: number };
    for (let v = row.user_version; v < MIGRATIONS.length; v++) {
      this.#db.exec('BEGIN');
      this.#db.exec(MIGRATIONS[v] ?? '');
      this.#db.exec(`PRAGMA user_version = ${v + 1}`);
      this.#db.exec('COMMIT');
    }
  }

  /** Prepared once per distinct SQL text (a filter combination makes its own). */
  #prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #one(sql: string, ...params: SQLInputValue[]): Job | null {
    const row = this.#prepare(sql).get(...params) as Row | undefined;
    return row ? toJob(row) : null;
  }

  /**
   * Runs `sql` (a statement that returns the job's new row, or none) and records the transition it
   * made, in one transaction with it: a job is never seen in a state its history lacks. The moves
   * asked for in one turn of the event loop share one commit (a burst of 10,000 job ends is one
   * write, not 10,000), each in its own savepoint so that one failing undoes only itself; every
   * promise settles after the commit, so nothing is published before it is durable.
   */
  #moved(sql: string, ...params: SQLInputValue[]): Promise<Job | null> {
    return new Promise((resolve, reject) => {
      this.#moves.push({ sql, params, resolve, reject });
      this.#commitSoon ??= setImmediate(() => this.#commitMoves());
    });
  }

  /**
   * Synchronous from BEGIN to COMMIT, so nothing else on this connection runs in between;
   * IMMEDIATE takes the write lock first, so another connection's writer waits (busy_timeout)
   * instead of failing the commit.
   */
  #commitMoves(): void {
    this.#commitSoon = null;
    const moves = this.#moves;
    this.#moves = [];
    if (moves.length === 0) return;
    const settle: Array<() => void> = [];
    try {
      this.#db.exec('BEGIN IMMEDIATE');
      // A write alone is its transaction: it needs no savepoint of its own.
      const savepoints = moves.length > 1;
      for (const move of moves) {
        if (savepoints) this.#prepare('SAVEPOINT move').run();
        try {
          const job = this.#moveOne(move);
          settle.push(() => move.resolve(job));
        } catch (error) {
          if (!savepoints) throw error;
          this.#prepare('ROLLBACK TO move').run();
          settle.push(() => move.reject(error));
        }
        if (savepoints) this.#prepare('RELEASE move').run();
      }
      this.#db.exec('COMMIT');
    } catch (error) {
      try {
        this.#db.exec('ROLLBACK');
      } catch {
        // No transaction left to roll back (BEGIN itself failed, or SQLite already rolled back).
      }
      for (const move of moves) move.reject(error);
      return;
    }
    for (const done of settle) done();
  }

  #moveOne(move: Move): Job | null {
    const row = this.#prepare(move.sql).get(...move.params) as Row | undefined;
    if (!row) return null;
    this.#prepare(RECORD_TRANSITION).run(row.id, row.sequence, row.status, row.previous_status, row.status_changed_at, snapshotOf(row));
    this.#prepare(TRIM_TRANSITIONS).run(row.id, row.sequence - TRANSITIONS_KEPT_PER_JOB);
    return toJob(row);
  }

  #all(sql: string, ...params: SQLInputValue[]): Job[] {
    return (this.#prepare(sql).all(...params) as unknown as Row[]).map(toJob);
  }

  async insert(job: NewJob): Promise<Job> {
    const inserted = await this.#moved(INSERT, ...newJobValues(job, MILLIS));
    if (inserted) return inserted;
    // Another submission with the same key won the race: its job is the answer.
    const existing = job.idempotencyKey ? await this.findByIdempotencyKey(job.owner, job.idempotencyKey) : null;
    if (!existing) throw new Error('insert returned no row');
    return existing;
  }

  async findByIdempotencyKey(owner: string, key: string): Promise<Job | null> {
    return this.#one('SELECT * FROM jobs WHERE owner = ? AND idempotency_key = ?', owner, key);
  }

  async forgetIdempotencyKeys(submittedBefore: Date): Promise<void> {
    this.#prepare('UPDATE jobs SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL AND submitted_at < ?').run(
      submittedBefore.getTime(),
    );
  }

  async countActive(owner: string): Promise<number> {
    const row = this.#prepare(`SELECT count(*) AS n FROM jobs WHERE owner = ? AND status NOT IN (${TERMINAL_LIST})`).get(
      owner,
    ) as { n: number };
    return row.n;
  }

  async get(id: string): Promise<Job | null> {
    return this.#one('SELECT * FROM jobs WHERE id = ?', id);
  }

  async list(filter: JobFilter, first: number, beforeSeq: number | null): Promise<JobPage> {
    const where: string[] = [];
    const params: SQLInputValue[] = [];
    if (filter.owner !== undefined) {
      where.push('owner = ?');
      params.push(filter.owner);
    }
    if (beforeSeq !== null) {
      where.push('seq < ?');
      params.push(beforeSeq);
    }
    if (filter.status && filter.status.length > 0) {
      where.push(`status IN (${filter.status.map(() => '?').join(', ')})`);
      params.push(...filter.status);
    }
    if (filter.tag !== undefined) {
      where.push('tag = ?');
      params.push(filter.tag);
    }
    if (filter.submittedAfter) {
      where.push('submitted_at > ?');
      params.push(filter.submittedAfter.getTime());
    }
    if (filter.submittedBefore) {
      where.push('submitted_at < ?');
      params.push(filter.submittedBefore.getTime());
    }
    const jobs = this.#all(
      `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`,
      ...params,
      first + 1,
    );
    return pageOf(jobs, first);
  }

  async transition(
    id: string,
    expectedSequence: number,
    to: JobStatus,
    at: Date,
    patch: JobPatch,
  ): Promise<Job | null> {
    const [sets, values] = patchColumns(patch);
    return this.#moved(
      `UPDATE jobs SET previous_status = status, status = ?, sequence = sequence + 1, status_changed_at = ?
              ${sets.map((s) => `, ${s}`).join('')}
       WHERE id = ? AND sequence = ? RETURNING *`,
      to,
      at.getTime(),
      ...values,
      id,
      expectedSequence,
    );
  }

  async transitionsAfter(jobId: string, sequence: number): Promise<JobStatusEvent[]> {
    const rows = this.#prepare(HISTORY).all(jobId, sequence) as unknown as History[];
    return rows.map((row) => eventFromTransitionRow(row, MILLIS, MILLIS));
  }

  async update(id: string, patch: JobPatch): Promise<Job | null> {
    const [sets, values] = patchColumns(patch);
    if (sets.length === 0) return this.get(id);
    return this.#one(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ? RETURNING *`, ...values, id);
  }

  async claim(id: string, at: Date, lease: Lease): Promise<Job | null> {
    return this.#one(
      `UPDATE jobs SET dispatched_at = ?, lease_holder = ?, lease_until = ?
       WHERE id = ? AND status = 'QUEUED' AND dispatched_at IS NULL RETURNING *`,
      at.getTime(),
      lease.holder,
      lease.until.getTime(),
      id,
    );
  }

  async acquireLeases(lease: Lease, now: Date, limit: number): Promise<Job[]> {
    // One statement, so atomic; SQLite serializes writers.
    return this.#all(
      `UPDATE jobs SET lease_holder = ?, lease_until = ?
       WHERE seq IN (SELECT seq FROM jobs
                     WHERE status NOT IN (${TERMINAL_LIST}) AND dispatched_at IS NOT NULL
                       AND (lease_holder IS NULL OR lease_holder = ? OR lease_until <= ?)
                     ORDER BY seq LIMIT ?)
       RETURNING *`,
      lease.holder,
      lease.until.getTime(),
      lease.holder,
      now.getTime(),
      limit,
    ).sort((a, b) => a.seq - b.seq);
  }

  async renewLeases(ids: readonly string[], lease: Lease): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = this.#prepare(
      `UPDATE jobs SET lease_until = ? WHERE lease_holder = ? AND id IN (SELECT value FROM json_each(?)) RETURNING id`,
    ).all(lease.until.getTime(), lease.holder, JSON.stringify(ids)) as { id: string }[];
    return rows.map((r) => r.id);
  }

  async releaseLeases(holder: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    this.#prepare(
      `UPDATE jobs SET lease_holder = NULL, lease_until = NULL
       WHERE lease_holder = ? AND id IN (SELECT value FROM json_each(?))`,
    ).run(holder, JSON.stringify(ids));
  }

  async countByStatus(): Promise<Partial<Record<JobStatus, number>>> {
    const rows = this.#prepare('SELECT status, count(*) AS n FROM jobs GROUP BY status').all() as {
      status: JobStatus;
      n: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  async listExpiredResults(now: Date, limit: number): Promise<Job[]> {
    return this.#all(
      'SELECT * FROM jobs WHERE result_deleted = 0 AND result_expires_at <= ? ORDER BY result_expires_at LIMIT ?',
      now.getTime(),
      limit,
    );
  }

  async markResultsDeleted(ids: readonly string[]): Promise<void> {
    const mark = this.#prepare('UPDATE jobs SET result_deleted = 1 WHERE id = ?');
    this.#db.exec('BEGIN');
    try {
      for (const id of ids) mark.run(id);
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  async findByQueryId(queryId: string): Promise<Job | null> {
    return this.#one('SELECT * FROM jobs WHERE query_id = ? ORDER BY seq LIMIT 1', queryId);
  }

  async listUnfinished(): Promise<Job[]> {
    return this.#all(`SELECT * FROM jobs WHERE status NOT IN (${TERMINAL_LIST}) ORDER BY seq`);
  }

  async listWaiting(limit: number, excludeOwners: readonly string[] = []): Promise<Job[]> {
    const exclude = excludeOwners.length > 0 ? `AND owner NOT IN (${excludeOwners.map(() => '?').join(', ')})` : '';
    return this.#all(
      `SELECT * FROM jobs WHERE status = 'QUEUED' AND dispatched_at IS NULL ${exclude} ORDER BY seq LIMIT ?`,
      ...excludeOwners,
      limit,
    );
  }

  async touch(ids: readonly string[], at: Date): Promise<void> {
    if (ids.length === 0) return;
    this.#db
      .prepare(`UPDATE jobs SET watched_at = ? WHERE id IN (${ids.map(() => '?').join(', ')}) AND status NOT IN (${TERMINAL_LIST})`)
      .run(at.getTime(), ...ids);
  }

  async listUnwatched(now: Date, limit: number): Promise<Job[]> {
    return this.#all(
      `SELECT * FROM jobs WHERE cancel_if_unwatched_seconds IS NOT NULL AND status NOT IN (${TERMINAL_LIST})
         AND coalesce(watched_at, submitted_at) + cancel_if_unwatched_seconds * 1000 <= ?
       ORDER BY seq LIMIT ?`,
      now.getTime(),
      limit,
    );
  }

  async listUndelivered(endedAfter: Date, limit: number): Promise<Job[]> {
    return this.#all(
      `SELECT * FROM jobs WHERE notification IS NOT NULL AND ended_at > ?
         AND json_extract(notification, '$.deliveredAt') IS NULL AND NOT json_extract(notification, '$.gaveUp')
       ORDER BY ended_at LIMIT ?`,
      endedAfter.getTime(),
      limit,
    );
  }

  async countWaitingBefore(seq: number, owner: string, skippedOwners: readonly string[]): Promise<number> {
    const skipped = skippedOwners.length > 0 ? `AND (owner = ? OR owner NOT IN (${skippedOwners.map(() => '?').join(', ')}))` : '';
    const row = this.#db
      .prepare(`SELECT count(*) AS n FROM jobs WHERE status = 'QUEUED' AND dispatched_at IS NULL AND seq < ? ${skipped}`)
      .get(seq, ...(skippedOwners.length > 0 ? [owner, ...skippedOwners] : [])) as { n: number };
    return row.n;
  }

  async countWaiting(): Promise<number> {
    const row = this.#prepare(
      `SELECT count(*) AS n FROM jobs WHERE status = 'QUEUED' AND dispatched_at IS NULL`,
    ).get() as { n: number };
    return row.n;
  }

  async close(): Promise<void> {
    if (this.#commitSoon) {
      // Writes already asked for are written, not dropped.
      clearImmediate(this.#commitSoon);
      this.#commitMoves();
    }
    if (this.#db.isOpen) this.#db.close();
  }
}
