import pg from 'pg';
import { RequestErrorCode, requestError } from '../core/errors.ts';
import { isUnreachable } from '../core/unreachable.ts';
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
 * The networked JobStore: one PostgreSQL database shared by every jobql instance. The semantics are
 * the SQLite store's (sqlite-job-store.ts); what differs is how concurrency is made safe:
 *
 * - `transition`, `claim` and `update` are single UPDATE statements; PostgreSQL re-checks the WHERE
 *   clause on the newest row version after waiting for a concurrent writer, so a compare-and-set on
 *   `sequence` (or on `dispatched_at IS NULL`) has exactly one winner.
 * - `acquireLeases` selects with `FOR UPDATE SKIP LOCKED` and updates in the same statement: two
 *   instances asking at once get disjoint jobs, and a row another instance took while this one was
 *   scanning fails the re-check instead of being taken twice.
 * - `insert` leans on the unique (owner, idempotency_key) index: `ON CONFLICT DO NOTHING`, then the
 *   winner's row.
 * - `insert` and `transition` record the transition they made in `job_transitions` in the same
 *   statement (data-modifying CTEs: `WITH moved AS (UPDATE … RETURNING *) INSERT …`), so the
 *   history commits with the change or not at all, and a compare-and-set loser (no row in `moved`)
 *   records nothing. Still one round trip.
 *
 * Timestamps are `timestamptz` (microseconds; jobql writes whole milliseconds, so Dates round-trip
 * equal). JSON columns are `text`, not `jsonb`, so bindings come back byte for byte as written (the
 * idempotency check compares `JSON.stringify(bindings)`; jsonb would reorder keys and normalize
 * numbers).
 */

/**
 * The schema, one entry per version; append, never edit an applied entry. Applied in one
 * transaction under an advisory lock, so instances starting together migrate once.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE jobs (
     seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     id text NOT NULL UNIQUE,
     query_id text,
     query_text text NOT NULL,
     bindings text NOT NULL,
     tag text,
     timeout_seconds integer,
     statement_count integer NOT NULL,
     status text NOT NULL,
     previous_status text,
     sequence integer NOT NULL,
     status_changed_at timestamptz NOT NULL,
     submitted_at timestamptz NOT NULL,
     dispatched_at timestamptz,
     started_at timestamptz,
     ended_at timestamptz,
     error text,
     progress text,
     dml text,
     result_expires_at timestamptz,
     result_deleted boolean NOT NULL DEFAULT false,
     owner text NOT NULL,
     idempotency_key text,
     lease_holder text,
     lease_until timestamptz
   );
   CREATE INDEX jobs_by_status ON jobs (status, seq);
   CREATE INDEX jobs_by_tag ON jobs (tag, seq);
   CREATE INDEX jobs_by_owner ON jobs (owner, seq);
   CREATE INDEX jobs_by_query_id ON jobs (query_id, seq) WHERE query_id IS NOT NULL;
   CREATE INDEX jobs_by_result_expiry ON jobs (result_expires_at) WHERE NOT result_deleted;
   CREATE UNIQUE INDEX jobs_by_idempotency_key ON jobs (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
   -- The lease scan: dispatched jobs not yet terminal, oldest first. The status list is the one
   -- the lease scan spells (TERMINAL_LIST), for the planner to match the predicate (a test checks it).
   CREATE INDEX jobs_leasable ON jobs (seq)
     WHERE dispatched_at IS NOT NULL
       AND status NOT IN (${TERMINAL_LIST});`,
  // Every transition of every job from here on, written with it (see `recorded`), so a
  // subscriber that reconnects gets the ones it missed (jobStatus afterSequence). Jobs from before
  // have no history: resuming one sends its current state.
  `CREATE TABLE job_transitions (
     job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
     sequence integer NOT NULL,
     status text NOT NULL,
     previous_status text,
     at timestamptz NOT NULL,
     snapshot text NOT NULL,
     PRIMARY KEY (job_id, sequence)
   );`,
  // The unwatched-job cancel (its setting, and when someone last watched the job) and the
  // completion webhook's delivery record.
  `ALTER TABLE jobs ADD COLUMN cancel_if_unwatched_seconds integer;
   ALTER TABLE jobs ADD COLUMN watched_at timestamptz;
   ALTER TABLE jobs ADD COLUMN notification text;
   CREATE INDEX jobs_watched ON jobs (seq) WHERE cancel_if_unwatched_seconds IS NOT NULL AND status NOT IN (${TERMINAL_LIST});
   CREATE INDEX jobs_notified ON jobs (ended_at) WHERE notification IS NOT NULL;`,
  // The warehouse identity a job runs as (Snowflake identities per principal).
  `ALTER TABLE jobs ADD COLUMN run_as text;`,
  // Unfinished jobs only, so that admission (a principal's active jobs) and recovery cost what is
  // running, not what a principal ever ran (the lease scan has jobs_leasable).
  `CREATE INDEX jobs_unfinished_by_owner ON jobs (owner, seq) WHERE status NOT IN (${TERMINAL_LIST});
   CREATE INDEX jobs_unfinished ON jobs (seq) WHERE status NOT IN (${TERMINAL_LIST});`,
];

/** pg_advisory_xact_lock key of the migrations ("jobql" in ASCII). */
const MIGRATION_LOCK = 0x6a6f62716c;

type Row = JobRow<Date>;
type History = TransitionRow<Date>;

type Param = string | number | boolean | Date | null | readonly string[];

/** timestamptz comes and goes as a Date. */
const DATES: TimeColumns<Date> = { read: (date) => date, write: (date) => date };

const toJob = (row: Row): Job => jobFromRow(row, DATES);

/** json_build_object writes a timestamptz as ISO 8601 text with the session's offset. */
const ISO_TEXT: TimeColumns<string> = { read: (text) => new Date(text), write: (date) => date.toISOString() };

/** A transition's snapshot, built from the CTE `moved` (the job's new row): every column but the unchanging ones. */
const SNAPSHOT = `json_build_object(${SNAPSHOT_COLUMNS.map((column) => `'${column}', moved.${column}`).join(', ')})::text`;

/**
 * `change` (an UPDATE or INSERT of one job … RETURNING *) with its transition recorded in the same
 * statement, and the job's older history trimmed; the statement returns the job's new row, or
 * nothing (and records nothing) when `change` changed no row. The CTEs share one snapshot, so the
 * DELETE cannot see the row just recorded; it only drops the oldest beyond the bound.
 */
const recorded = (change: string): string => `WITH moved AS (${change}),
     recorded AS (
       INSERT INTO job_transitions (job_id, sequence, status, previous_status, at, snapshot)
       SELECT moved.id, moved.sequence, moved.status, moved.previous_status, moved.status_changed_at, ${SNAPSHOT} FROM moved
     ),
     trimmed AS (
       DELETE FROM job_transitions t USING moved
       WHERE t.job_id = moved.id AND t.sequence <= moved.sequence - ${TRANSITIONS_KEPT_PER_JOB}
     )
     SELECT * FROM moved`;

const INSERT = recorded(INSERT_JOB);

/** Column assignments for a patch, numbered from `$first`; undefined fields are left alone. */
function patchColumns(patch: JobPatch, first: number): [string[], Param[]] {
  const sets = patchAssignments(patch, DATES);
  return [sets.map(([column], i) => `${column} = $${first + i}`), sets.map(([, value]) => value)];
}

export interface PostgresJobStoreOptions {
  /** Connections in the pool; default 10. */
  poolSize?: number;
  /** Shown in pg_stat_activity; default "jobql". */
  applicationName?: string;
  /**
   * An idle pooled connection failed (the server restarted, the network dropped); the pool drops
   * it and opens another on demand. Without this, such errors are ignored rather than crashing the
   * process.
   */
  onError?: (error: Error) => void;
  /** Whether PostgreSQL answered a statement (true) or could not be reached (false), after each one. */
  onReachability?: (answered: boolean, error?: unknown) => void;
}

/** How long a new connection may take, and the retry hint while PostgreSQL does not answer. */
const CONNECT_TIMEOUT_MS = 5000;
const RETRY_AFTER_SECONDS = 2;

export class PostgresJobStore implements JobStore {
  readonly #pool: pg.Pool;
  readonly #onReachability: (answered: boolean, error?: unknown) => void;
  #closed = false;

  constructor(connectionString: string, options: PostgresJobStoreOptions = {}) {
    this.#pool = new pg.Pool({
      connectionString,
      // A server that does not answer at all (a failover in progress) fails a request instead of holding it.
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      max: options.poolSize ?? 10,
      application_name: options.applicationName ?? 'jobql',
    });
    const onError = options.onError;
    this.#pool.on('error', (error) => onError?.(error));
    this.#onReachability = options.onReachability ?? (() => {});
  }

  /** Connects and brings the schema up to date. */
  static async open(connectionString: string, options: PostgresJobStoreOptions = {}): Promise<PostgresJobStore> {
    const store = new PostgresJobStore(connectionString, options);
    try {
      await store.migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /** Applies the migrations not yet applied; safe when several instances start at once. */
  async migrate(): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query(
        `CREATE TABLE IF NOT EXISTS jobql_schema_version (
           version integer PRIMARY KEY,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const { rows } = await client.query<{ version: number | null }>(
        'SELECT max(version) AS version FROM jobql_schema_version',
      );
      // A newer schema than this code knows (a rolling deploy) is left alone: migrations only add.
      for (let v = rows[0]?.version ?? 0; v < MIGRATIONS.length; v++) {
        await client.query(MIGRATIONS[v] ?? '');
        await client.query('INSERT INTO jobql_schema_version (version) VALUES ($1)', [v + 1]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async #rows<R extends pg.QueryResultRow>(sql: string, params: readonly Param[] = []): Promise<R[]> {
    return (await this.#query<R>(sql, params)).rows;
  }

  /**
   * Every statement after the migrations: one statement each (a transition and its history row
   * are one statement), so an outage never leaves one half written. While PostgreSQL does not
   * answer, the caller gets SERVICE_UNAVAILABLE with a retry hint instead of an internal error.
   */
  async #query<R extends pg.QueryResultRow>(sql: string, params: readonly Param[] = []): Promise<pg.QueryResult<R>> {
    try {
      const result = await this.#pool.query<R>(sql, params as Param[]);
      this.#onReachability(true);
      return result;
    } catch (error) {
      if (!isUnreachable(error)) throw error;
      this.#onReachability(false, error);
      throw requestError(RequestErrorCode.SERVICE_UNAVAILABLE, 'The job store (PostgreSQL) does not answer; retry shortly', {
        retryAfterSeconds: RETRY_AFTER_SECONDS,
      });
    }
  }

  async #one(sql: string, params: readonly Param[]): Promise<Job | null> {
    const [row] = await this.#rows<Row>(sql, params);
    return row ? toJob(row) : null;
  }

  async #all(sql: string, params: readonly Param[] = []): Promise<Job[]> {
    return (await this.#rows<Row>(sql, params)).map(toJob);
  }

  async #count(sql: string, params: readonly Param[] = []): Promise<number> {
    const [row] = await this.#rows<{ n: string }>(sql, params);
    return Number(row?.n ?? 0);
  }

  async insert(job: NewJob): Promise<Job> {
    // Twice at most: the key's holder can lose its key (forgetIdempotencyKeys) between our
    // conflict and our read, and then the insert goes through.
    for (let attempt = 0; attempt < 2; attempt++) {
      const inserted = await this.#one(INSERT, newJobValues(job, DATES));
      if (inserted) return inserted;
      // Another submission with the same key won the race (and committed: ON CONFLICT waited for
      // it): its job is the answer.
      const existing = job.idempotencyKey ? await this.findByIdempotencyKey(job.owner, job.idempotencyKey) : null;
      if (existing) return existing;
    }
    throw new Error('insert returned no row');
  }

  async findByIdempotencyKey(owner: string, key: string): Promise<Job | null> {
    return this.#one('SELECT * FROM jobs WHERE owner = $1 AND idempotency_key = $2', [owner, key]);
  }

  async forgetIdempotencyKeys(submittedBefore: Date): Promise<void> {
    await this.#query(
      'UPDATE jobs SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL AND submitted_at < $1',
      [submittedBefore],
    );
  }

  async countActive(owner: string): Promise<number> {
    return this.#count(`SELECT count(*) AS n FROM jobs WHERE owner = $1 AND status NOT IN (${TERMINAL_LIST})`, [
      owner,
    ]);
  }

  async get(id: string): Promise<Job | null> {
    return this.#one('SELECT * FROM jobs WHERE id = $1', [id]);
  }

  async list(filter: JobFilter, first: number, beforeSeq: number | null): Promise<JobPage> {
    const where: string[] = [];
    const params: Param[] = [];
    const add = (clause: (p: string) => string, value: Param): void => {
      params.push(value);
      where.push(clause(`$${params.length}`));
    };
    if (filter.owner !== undefined) add((p) => `owner = ${p}`, filter.owner);
    if (beforeSeq !== null) add((p) => `seq < ${p}`, beforeSeq);
    if (filter.status && filter.status.length > 0) add((p) => `status = ANY(${p}::text[])`, filter.status);
    if (filter.tag !== undefined) add((p) => `tag = ${p}`, filter.tag);
    if (filter.submittedAfter) add((p) => `submitted_at > ${p}`, filter.submittedAfter);
    if (filter.submittedBefore) add((p) => `submitted_at < ${p}`, filter.submittedBefore);
    params.push(first + 1);
    const jobs = await this.#all(
      `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT $${params.length}`,
      params,
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
    const [sets, values] = patchColumns(patch, 5);
    // SET expressions read the row as it was, so previous_status takes the old status.
    return this.#one(
      recorded(`UPDATE jobs SET previous_status = status, status = $3, sequence = sequence + 1, status_changed_at = $4
              ${sets.map((s) => `, ${s}`).join('')}
       WHERE id = $1 AND sequence = $2 RETURNING *`),
      [id, expectedSequence, to, at, ...values],
    );
  }

  async transitionsAfter(jobId: string, sequence: number): Promise<JobStatusEvent[]> {
    const rows = await this.#rows<History>(TRANSITIONS_AFTER, [jobId, sequence]);
    return rows.map((row) => eventFromTransitionRow(row, DATES, ISO_TEXT));
  }

  async update(id: string, patch: JobPatch): Promise<Job | null> {
    const [sets, values] = patchColumns(patch, 2);
    if (sets.length === 0) return this.get(id);
    return this.#one(`UPDATE jobs SET ${sets.join(', ')} WHERE id = $1 RETURNING *`, [id, ...values]);
  }

  async claim(id: string, at: Date, lease: Lease): Promise<Job | null> {
    return this.#one(
      `UPDATE jobs SET dispatched_at = $2, lease_holder = $3, lease_until = $4
       WHERE id = $1 AND status = 'QUEUED' AND dispatched_at IS NULL RETURNING *`,
      [id, at, lease.holder, lease.until],
    );
  }

  async acquireLeases(lease: Lease, now: Date, limit: number): Promise<Job[]> {
    // SKIP LOCKED: rows another instance is taking right now are passed over, not waited for. A
    // row it took and committed after this statement's snapshot is re-checked against the WHERE
    // on its new version (now someone else's live lease) and dropped, so no job goes to two.
    const jobs = await this.#all(
      `WITH free AS (
         SELECT seq FROM jobs
         WHERE dispatched_at IS NOT NULL AND status NOT IN (${TERMINAL_LIST})
           AND (lease_holder IS NULL OR lease_holder = $1 OR lease_until <= $3)
         ORDER BY seq
         LIMIT $4
         FOR UPDATE SKIP LOCKED
       )
       UPDATE jobs SET lease_holder = $1, lease_until = $2
       FROM free WHERE jobs.seq = free.seq
       RETURNING jobs.*`,
      [lease.holder, lease.until, now, limit],
    );
    return jobs.sort((a, b) => a.seq - b.seq);
  }

  async renewLeases(ids: readonly string[], lease: Lease): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.#rows<{ id: string }>(
      'UPDATE jobs SET lease_until = $1 WHERE lease_holder = $2 AND id = ANY($3::text[]) RETURNING id',
      [lease.until, lease.holder, ids],
    );
    return rows.map((r) => r.id);
  }

  async releaseLeases(holder: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#query(
      'UPDATE jobs SET lease_holder = NULL, lease_until = NULL WHERE lease_holder = $1 AND id = ANY($2::text[])',
      [holder, ids],
    );
  }

  async countByStatus(): Promise<Partial<Record<JobStatus, number>>> {
    const rows = await this.#rows<{ status: JobStatus; n: string }>(
      'SELECT status, count(*) AS n FROM jobs GROUP BY status',
    );
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  async listExpiredResults(now: Date, limit: number): Promise<Job[]> {
    return this.#all(
      'SELECT * FROM jobs WHERE NOT result_deleted AND result_expires_at <= $1 ORDER BY result_expires_at LIMIT $2',
      [now, limit],
    );
  }

  async markResultsDeleted(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#query('UPDATE jobs SET result_deleted = true WHERE id = ANY($1::text[])', [ids]);
  }

  async findByQueryId(queryId: string): Promise<Job | null> {
    return this.#one('SELECT * FROM jobs WHERE query_id = $1 ORDER BY seq LIMIT 1', [queryId]);
  }

  async listUnfinished(): Promise<Job[]> {
    return this.#all(`SELECT * FROM jobs WHERE status NOT IN (${TERMINAL_LIST}) ORDER BY seq`);
  }

  async listWaiting(limit: number, excludeOwners: readonly string[] = []): Promise<Job[]> {
    return this.#all(
      `SELECT * FROM jobs WHERE status = 'QUEUED' AND dispatched_at IS NULL AND owner <> ALL($2::text[])
       ORDER BY seq LIMIT $1`,
      [limit, excludeOwners],
    );
  }

  async touch(ids: readonly string[], at: Date): Promise<void> {
    if (ids.length === 0) return;
    await this.#query(`UPDATE jobs SET watched_at = $2 WHERE id = ANY($1::text[]) AND status NOT IN (${TERMINAL_LIST})`, [ids, at]);
  }

  async listUnwatched(now: Date, limit: number): Promise<Job[]> {
    return this.#all(
      `SELECT * FROM jobs WHERE cancel_if_unwatched_seconds IS NOT NULL AND status NOT IN (${TERMINAL_LIST})
         AND coalesce(watched_at, submitted_at) + make_interval(secs => cancel_if_unwatched_seconds) <= $1
       ORDER BY seq LIMIT $2`,
      [now, limit],
    );
  }

  async listUndelivered(endedAfter: Date, limit: number): Promise<Job[]> {
    return this.#all(
      `SELECT * FROM jobs WHERE notification IS NOT NULL AND ended_at > $1
         AND (notification::jsonb ->> 'deliveredAt') IS NULL AND NOT (notification::jsonb ->> 'gaveUp')::boolean
       ORDER BY ended_at LIMIT $2`,
      [endedAfter, limit],
    );
  }

  async countWaitingBefore(seq: number, owner: string, skippedOwners: readonly string[]): Promise<number> {
    return this.#count(
      `SELECT count(*) AS n FROM jobs WHERE status = 'QUEUED' AND dispatched_at IS NULL AND seq < $1
         AND (owner = $2 OR owner <> ALL($3::text[]))`,
      [seq, owner, skippedOwners],
    );
  }

  async countWaiting(): Promise<number> {
    return this.#count(`SELECT count(*) AS n FROM jobs WHERE status = 'QUEUED' AND dispatched_at IS NULL`);
  }

  /** Whether PostgreSQL answers a trivial query within `timeoutMs` (readiness). */
  async ping(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      const answered = this.#pool.query('SELECT 1').then(
        () => true as const,
        () => false as const,
      );
      const result = await Promise.race([answered, late]);
      if (result) this.#onReachability(true);
      else this.#onReachability(false, new Error(`no answer to SELECT 1 within ${timeoutMs} ms`));
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
