/**
 * The closed set of `extensions.code` values on GraphQL errors, i.e. errors about the request.
 * Errors of the SQL itself are not request errors: they end the job FAILED_WITH_ERROR with a
 * `JobErrorCode` in `Job.error.code`. The README documents both sets.
 */
export const RequestErrorCode = {
  /** The document is not valid GraphQL, or does not match the schema. */
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  /** `operationName` names no operation of the document (or several and none chosen). */
  OPERATION_RESOLUTION_FAILURE: 'OPERATION_RESOLUTION_FAILURE',
  /** An argument or variable is malformed: empty SQL, a bad cursor, a negative page size. */
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  /**
   * A configured limit was hit: SQL length, statements per job, page size, queued or active jobs,
   * subscriptions per socket, request size, GraphQL depth, aliases, tokens or cost.
   */
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  /** No credentials, or credentials that do not verify (bad signature, wrong issuer, expired). */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** Too many requests of one kind from one principal in a period (submissions per minute). */
  RATE_LIMITED: 'RATE_LIMITED',
  /**
   * No job with this id (or no query with this id, for attachQuery). A job of another principal
   * answers exactly the same: existence is not revealed.
   */
  NOT_FOUND: 'NOT_FOUND',
  /** The operation is not allowed to this caller (attachQuery without the admin scope, or off). */
  FORBIDDEN: 'FORBIDDEN',
  /** The job has no result (yet): it is not SUCCESS. Downloads only; `Job.result` is null then. */
  RESULT_NOT_READY: 'RESULT_NOT_READY',
  /** The job succeeded, but its result is past `resultExpiresAt` and was deleted. */
  RESULT_EXPIRED: 'RESULT_EXPIRED',
  /** The HTTP request itself is malformed (bad JSON body, wrong method or content type). */
  BAD_REQUEST: 'BAD_REQUEST',
  /**
   * The request named a document by hash that this server does not hold: with trusted documents
   * (JOBQL_TRUSTED_DOCUMENTS), any document not in its manifests (and any request without a hash);
   * without them, any hash-only request (send the text). Apollo's and urql's persisted-query links
   * know this code and send the text.
   */
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  /** The server is shutting down and takes no new jobs, or the job store (PostgreSQL) does not answer: retry (after `retryAfterSeconds`). */
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  /** Anything unexpected; the details stay in the server's log. */
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;

export type RequestErrorCode = (typeof RequestErrorCode)[keyof typeof RequestErrorCode];

/** The closed set of `Job.error.code` values: why a job ended in a failure state. */
export const JobErrorCode = {
  SQL_SYNTAX_ERROR: 'SQL_SYNTAX_ERROR',
  SQL_OBJECT_NOT_FOUND: 'SQL_OBJECT_NOT_FOUND',
  SQL_BINDER_ERROR: 'SQL_BINDER_ERROR',
  SQL_CONVERSION_ERROR: 'SQL_CONVERSION_ERROR',
  SQL_CONSTRAINT_VIOLATION: 'SQL_CONSTRAINT_VIOLATION',
  SQL_INVALID_INPUT: 'SQL_INVALID_INPUT',
  SQL_PERMISSION_DENIED: 'SQL_PERMISSION_DENIED',
  SQL_OUT_OF_MEMORY: 'SQL_OUT_OF_MEMORY',
  SQL_TRANSACTION_CONFLICT: 'SQL_TRANSACTION_CONFLICT',
  SQL_BINDING_MISMATCH: 'SQL_BINDING_MISMATCH',
  SQL_ERROR: 'SQL_ERROR',
  STATEMENT_TIMEOUT: 'STATEMENT_TIMEOUT',
  QUERY_CANCELLED: 'QUERY_CANCELLED',
  /** Nobody watched the job for its cancelIfUnwatchedSeconds (jobs/unwatched-jobs.ts). */
  JOB_UNWATCHED: 'JOB_UNWATCHED',
  /** The server stopped while the job ran; the embedded engine's queries do not survive that. */
  JOB_INTERRUPTED: 'JOB_INTERRUPTED',
  /**
   * The embedded engine's process died while the job ran in it (a crash, a kill from outside, a
   * hard kill that stopped another job, an instance DuckDB invalidated). The job is not run again;
   * a fresh engine takes the next jobs.
   */
  ENGINE_CRASHED: 'ENGINE_CRASHED',
  /** The warehouse failed in a way that is not the SQL's fault. */
  WAREHOUSE_ERROR: 'WAREHOUSE_ERROR',
  /**
   * The embedded warehouse has as many principals' databases open as it may
   * (JOBQL_DUCKDB_MAX_OPEN_DATABASES), all running jobs; submitting again later works.
   */
  WAREHOUSE_BUSY: 'WAREHOUSE_BUSY',
} as const;

export type JobErrorCode = (typeof JobErrorCode)[keyof typeof JobErrorCode];

/** Why a job failed: a code of the closed set above, the SQLSTATE where one applies, a message. */
export interface JobError {
  code: JobErrorCode;
  sqlState: string | null;
  message: string;
}

/**
 * An error about the request whose message is safe to show to the client, with its code. The
 * application throws these; graphql/errors.ts turns them into GraphQL errors and http/ into JSON
 * bodies, so nothing below those layers knows either protocol.
 */
export class RequestError extends Error {
  readonly code: RequestErrorCode;
  /** Extra fields for the client (`argument`, `retryAfterSeconds`), beside the code. */
  readonly extensions: Readonly<Record<string, unknown>>;

  constructor(code: RequestErrorCode, message: string, extensions: Record<string, unknown> = {}) {
    super(message);
    this.name = 'RequestError';
    this.code = code;
    this.extensions = extensions;
  }
}

export function requestError(code: RequestErrorCode, message: string, extensions: Record<string, unknown> = {}): RequestError {
  return new RequestError(code, message, extensions);
}

/** The code of a `RequestError`, or null for any other error. */
export function requestErrorCode(error: unknown): RequestErrorCode | null {
  return error instanceof RequestError ? error.code : null;
}

/** How a query that was stopped on request ends: the job errors every adapter reports the same way. */
export const JobErrors = {
  cancelled: (): JobError => ({ code: JobErrorCode.QUERY_CANCELLED, sqlState: '57014', message: 'SQL execution canceled' }),
  timedOut: (): JobError => ({
    code: JobErrorCode.STATEMENT_TIMEOUT,
    sqlState: '57014',
    message: 'Statement reached its timeout (timeoutSeconds) and was canceled',
  }),
  interrupted: (message: string): JobError => ({ code: JobErrorCode.JOB_INTERRUPTED, sqlState: null, message }),
  unwatched: (seconds: number): JobError => ({
    code: JobErrorCode.JOB_UNWATCHED,
    sqlState: '57014',
    message: `Nobody watched this job for ${seconds} seconds (cancelIfUnwatchedSeconds), so it was cancelled`,
  }),
} as const;
