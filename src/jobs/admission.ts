import { RequestErrorCode, requestError } from '../core/errors.ts';
import { isQueryId } from '../core/ids.ts';
import type { Job, JsonValue } from '../core/job.ts';
import type { Principal } from '../core/principal.ts';
import type { SubmissionLimiter } from '../limits/submission-limiter.ts';
import type { JobStore } from '../store/job-store.ts';
import { splitStatements } from './sql-statements.ts';

export interface JobLimits {
  maxConcurrentJobs: number;
  maxQueuedJobs: number;
  maxSqlLength: number;
  maxStatements: number;
  maxBindings: number;
  defaultTimeoutSeconds: number;
  maxTimeoutSeconds: number;
  maxWaitMs: number;
  /** Whether attachQuery is allowed at all (it also needs the admin scope). */
  allowAttach: boolean;
  /** Queued plus running jobs of one principal. */
  maxActiveJobsPerPrincipal: number;
  /** Dispatch slots one principal may hold at once, so that one cannot starve the others. */
  maxRunningJobsPerPrincipal: number;
  maxSubmissionsPerMinute: number;
  /** How long an idempotency key maps to its job. */
  idempotencyWindowSeconds: number;
  /** The unwatched-job cancel of jobs that do not set their own; null for none. */
  defaultCancelIfUnwatchedSeconds?: number | null;
}

export interface SubmitInput {
  sql: string;
  bindings?: readonly unknown[] | null;
  tag?: string | null;
  timeoutSeconds?: number | null;
  waitMs?: number | null;
  /** The same key from the same principal within the window returns the first job, not a new one. */
  idempotencyKey?: string | null;
  /** 0 turns the server's default off for this job. */
  cancelIfUnwatchedSeconds?: number | null;
  /** Already checked against the webhook allow-list (notifications/webhook-url.ts). */
  notifyUrl?: string | null;
}

/** A submission that passed validation, with its defaults filled in. */
export interface ValidSubmission {
  sql: string;
  statements: string[];
  bindings: JsonValue[];
  tag: string | null;
  timeoutSeconds: number;
  waitMs: number;
  idempotencyKey: string | null;
  cancelIfUnwatchedSeconds: number | null;
  notifyUrl: string | null;
}

const MAX_TAG_LENGTH = 256;
const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
export const MAX_CANCEL_IF_UNWATCHED_SECONDS = 86_400;

const tooLarge = (message: string, argument?: string) =>
  requestError(RequestErrorCode.LIMIT_EXCEEDED, message, argument ? { argument } : {});
const badInput = (message: string, argument: string) => requestError(RequestErrorCode.BAD_USER_INPUT, message, { argument });

/** Checks a submission against the limits and fills in its defaults; throws the request error. Pure. */
export function validateSubmission(input: SubmitInput, limits: JobLimits): ValidSubmission {
  if (input.sql.length > limits.maxSqlLength) {
    throw tooLarge(`sql is ${input.sql.length} characters long; the limit is ${limits.maxSqlLength}`);
  }
  const statements = splitStatements(input.sql);
  if (statements.length === 0) throw badInput('sql holds no statement', 'input.sql');
  if (statements.length > limits.maxStatements) {
    throw tooLarge(`sql holds ${statements.length} statements; the limit is ${limits.maxStatements}`);
  }
  const bindings = (input.bindings ?? []).map((value, i) => {
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return value as JsonValue;
    throw badInput(`bindings[${i}] must be a string, number, boolean or null`, 'input.bindings');
  });
  if (bindings.length > limits.maxBindings) throw tooLarge(`${bindings.length} bindings given; the limit is ${limits.maxBindings}`);
  const tag = input.tag ?? null;
  if (tag !== null && tag.length > MAX_TAG_LENGTH) throw badInput(`tag is longer than ${MAX_TAG_LENGTH} characters`, 'input.tag');
  const timeoutSeconds = input.timeoutSeconds ?? limits.defaultTimeoutSeconds;
  if (timeoutSeconds < 1) throw badInput('timeoutSeconds must be at least 1', 'input.timeoutSeconds');
  if (timeoutSeconds > limits.maxTimeoutSeconds) {
    throw tooLarge(`timeoutSeconds is ${timeoutSeconds}; the limit is ${limits.maxTimeoutSeconds}`);
  }
  const waitMs = input.waitMs ?? 0;
  if (waitMs < 0) throw badInput('waitMs must not be negative', 'input.waitMs');
  if (waitMs > limits.maxWaitMs) throw tooLarge(`waitMs is ${waitMs}; the limit is ${limits.maxWaitMs}`, 'input.waitMs');
  const idempotencyKey = input.idempotencyKey ?? null;
  if (idempotencyKey !== null && (idempotencyKey.length === 0 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
    throw badInput(`idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`, 'input.idempotencyKey');
  }
  const unwatched = input.cancelIfUnwatchedSeconds ?? limits.defaultCancelIfUnwatchedSeconds ?? 0;
  if (!Number.isSafeInteger(unwatched) || unwatched < 0 || unwatched > MAX_CANCEL_IF_UNWATCHED_SECONDS) {
    throw badInput(`cancelIfUnwatchedSeconds must be 0 (off) to ${MAX_CANCEL_IF_UNWATCHED_SECONDS}`, 'input.cancelIfUnwatchedSeconds');
  }
  return {
    sql: input.sql,
    statements,
    bindings,
    tag,
    timeoutSeconds,
    waitMs,
    idempotencyKey,
    cancelIfUnwatchedSeconds: unwatched === 0 ? null : unwatched,
    notifyUrl: input.notifyUrl ?? null,
  };
}

/**
 * What an earlier job with the same idempotency key means for this submission (pure): outside the
 * window it is forgotten; inside, the same request returns it, and a different one is the client's
 * mistake, said as such rather than answered with the wrong job.
 */
export function idempotentMatch(
  earlier: Job,
  submission: ValidSubmission,
  windowSeconds: number,
  now: Date,
): 'expired' | 'same' {
  if (earlier.submittedAt.getTime() < now.getTime() - windowSeconds * 1000) return 'expired';
  const same =
    earlier.queryText === submission.sql &&
    JSON.stringify(earlier.bindings) === JSON.stringify(submission.bindings) &&
    earlier.tag === submission.tag &&
    earlier.timeoutSeconds === submission.timeoutSeconds;
  if (!same) {
    throw badInput(
      'idempotencyKey was already used for a different submission (sql, bindings, tag or timeoutSeconds differ)',
      'input.idempotencyKey',
    );
  }
  return 'same';
}

/** Whether `principal` may attach `queryId` here; throws the request error if not. Pure. */
export function checkAttach(queryId: string, principal: Principal, limits: JobLimits): void {
  if (!limits.allowAttach) {
    throw requestError(RequestErrorCode.FORBIDDEN, 'Attaching queries is not allowed on this server (JOBQL_ALLOW_ATTACH)');
  }
  // Any query the warehouse user ran is attachable, whoever asked for it: only admins may.
  if (!principal.admin) throw requestError(RequestErrorCode.FORBIDDEN, 'Attaching queries needs the admin scope');
  if (!isQueryId(queryId)) {
    throw badInput('queryId must be a query id such as 01b2c3d4-0000-1111-2222-333344445555', 'queryId');
  }
}

/**
 * The limits a new job must pass that need state: the idempotency key, submissions per minute,
 * the principal's unfinished jobs and the global queue.
 */
export class Admission {
  readonly #store: JobStore;
  readonly #limiter: SubmissionLimiter;
  readonly #limits: JobLimits;

  constructor(deps: { store: JobStore; limiter: SubmissionLimiter; limits: JobLimits }) {
    this.#store = deps.store;
    this.#limiter = deps.limiter;
    this.#limits = deps.limits;
  }

  /** The job an earlier submission with this key made, within the window, or null. */
  async earlierWithKey(principal: Principal, submission: ValidSubmission, now: Date): Promise<Job | null> {
    if (submission.idempotencyKey === null) return null;
    const earlier = await this.#store.findByIdempotencyKey(principal.id, submission.idempotencyKey);
    if (!earlier) return null;
    if (idempotentMatch(earlier, submission, this.#limits.idempotencyWindowSeconds, now) === 'same') return earlier;
    await this.#store.forgetIdempotencyKeys(new Date(now.getTime() - this.#limits.idempotencyWindowSeconds * 1000));
    return null;
  }

  async admit(principal: Principal): Promise<void> {
    const counted = await this.#limiter.consume(principal.id);
    if (!counted.allowed) {
      const retryAfterSeconds = Math.ceil(counted.retryAfterMs / 1000);
      throw requestError(
        RequestErrorCode.RATE_LIMITED,
        `Too many submissions (limit ${this.#limits.maxSubmissionsPerMinute} per minute); retry in ${retryAfterSeconds} s`,
        { retryAfterSeconds },
      );
    }
    if ((await this.#store.countActive(principal.id)) >= this.#limits.maxActiveJobsPerPrincipal) {
      throw tooLarge(`Too many unfinished jobs of yours (limit ${this.#limits.maxActiveJobsPerPrincipal}); wait for some to end or cancel them`);
    }
    if ((await this.#store.countWaiting()) >= this.#limits.maxQueuedJobs) {
      throw tooLarge(`Too many queued jobs (limit ${this.#limits.maxQueuedJobs}); try again later`);
    }
  }
}
