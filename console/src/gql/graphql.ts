/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** Why a job failed: the closed set of job error codes, the same on every warehouse. */
export type JobErrorCode =
  /** The embedded engine's process died while the job ran in it (on FAILED_WITH_INCIDENT). */
  | 'ENGINE_CRASHED'
  /** The server stopped while the job ran (on FAILED_WITH_INCIDENT). */
  | 'JOB_INTERRUPTED'
  /** Nobody watched the job for its cancelIfUnwatchedSeconds, so the server cancelled it (on ABORTED jobs; 57014). */
  | 'JOB_UNWATCHED'
  /** The job was cancelled (on ABORTED jobs; 57014). */
  | 'QUERY_CANCELLED'
  /** The SQL parses but does not bind: a wrong column, a type mismatch. */
  | 'SQL_BINDER_ERROR'
  /** The bindings do not match the statements' parameters. */
  | 'SQL_BINDING_MISMATCH'
  /** A constraint was violated (class 23). */
  | 'SQL_CONSTRAINT_VIOLATION'
  /** A value could not be converted (SQLSTATE class 22). */
  | 'SQL_CONVERSION_ERROR'
  /** Any other error the engine raised. */
  | 'SQL_ERROR'
  /** The SQL's input is invalid for the operation. */
  | 'SQL_INVALID_INPUT'
  /** A table, view or function the SQL names does not exist (42P01). */
  | 'SQL_OBJECT_NOT_FOUND'
  /** The query ran out of memory. */
  | 'SQL_OUT_OF_MEMORY'
  /** The SQL tried something it may not (a file, the network, a locked setting). */
  | 'SQL_PERMISSION_DENIED'
  /** The SQL does not parse (SQLSTATE 42601). */
  | 'SQL_SYNTAX_ERROR'
  /** A transaction conflicted with another (class 25). */
  | 'SQL_TRANSACTION_CONFLICT'
  /** The job ran past its timeoutSeconds (57014). */
  | 'STATEMENT_TIMEOUT'
  /** The embedded warehouse has as many principals' databases open as it may (JOBQL_DUCKDB_MAX_OPEN_DATABASES), each running a job; submit again later (SQLSTATE 53000). */
  | 'WAREHOUSE_BUSY'
  /** The warehouse failed in a way that is not the SQL's fault. */
  | 'WAREHOUSE_ERROR';

/**
 * What a `jobStatus` event tells. Only TRANSITION events move `sequence`, are kept in the job's
 * history and are replayed by `afterSequence`; the others say the latest state of something that
 * changes without a transition, and a client that misses one loses nothing the next one or a
 * `job(id)` read would not tell it.
 */
export type JobEventKind =
  /** The running query's `job.progress` changed (at most 4 events a second per job). */
  | 'PROGRESS'
  /** The waiting job's `job.queuePosition` changed (at most 4 events a second per job). */
  | 'QUEUE_POSITION'
  /** A new status: `sequence` is one more than the event before. */
  | 'TRANSITION';

export type JobFilter = {
  status?: Array<JobStatus> | null | undefined;
  submittedAfter?: string | null | undefined;
  submittedBefore?: string | null | undefined;
  tag?: string | null | undefined;
};

/**
 * Snowflake's QueryStatus names, spelled as Snowflake spells them, so that a client written against
 * Snowpark's `AsyncJob.status()` reads the same strings. The README lists the states each warehouse
 * produces.
 */
export type JobStatus =
  | 'ABORTED'
  | 'ABORTING'
  | 'BLOCKED'
  | 'DISCONNECTED'
  | 'FAILED_WITH_ERROR'
  | 'FAILED_WITH_INCIDENT'
  | 'NO_DATA'
  | 'QUEUED'
  | 'QUEUED_REPARING_WAREHOUSE'
  | 'RESTARTED'
  | 'RESUMING_WAREHOUSE'
  | 'RUNNING'
  | 'SUCCESS';

export type NotifyInput = {
  /** An http or https URL on an allowed host. */
  url: string;
};

export type QueueReason =
  /** Every slot of the server (JOBQL_MAX_CONCURRENT_JOBS) is taken. */
  | 'INSTANCE_CONCURRENCY'
  /** The job's principal already runs its share (JOBQL_MAX_RUNNING_JOBS_PER_PRINCIPAL). */
  | 'PRINCIPAL_LIMIT';

export type SubmitQueryInput = {
  /**
   * Positional parameters for `?` and `$n` placeholders, in order across all statements. Each value is
   * a JSON string, number, boolean or null.
   */
  bindings?: Array<unknown> | null | undefined;
  /**
   * Cancel the job when nobody has watched it for this many seconds: no `jobStatus` subscriber open,
   * no `job(id)` or `jobs` read of it, no download. It then ends ABORTED with the error code
   * JOB_UNWATCHED. 1 to 86400; without it the server's JOBQL_CANCEL_IF_UNWATCHED_SECONDS applies
   * (off by default), and 0 turns that default off for this job. Like Snowflake's
   * ABORT_DETACHED_QUERY, but decided by watchers, not by a connection.
   */
  cancelIfUnwatchedSeconds?: number | null | undefined;
  /**
   * Makes retrying safe: a second submission with the same key, from the same principal, within the
   * server's window (JOBQL_IDEMPOTENCY_WINDOW_SECONDS, 24 hours by default) returns the first job
   * instead of creating another. Reusing a key for a different sql, bindings, tag or timeoutSeconds
   * is a BAD_USER_INPUT error. 1 to 255 characters; a UUID is a good choice.
   */
  idempotencyKey?: string | null | undefined;
  /**
   * POST a signed notice to a URL when the job ends (see `Job.notifications`). The URL's host must be
   * on the server's JOBQL_WEBHOOK_ALLOWED_HOSTS; otherwise BAD_USER_INPUT.
   */
  notify?: NotifyInput | null | undefined;
  /** One or more SQL statements separated by `;`. The last statement's result is the job's result. */
  sql: string;
  /** A free label to find the job again (`jobs(filter: {tag})`). */
  tag?: string | null | undefined;
  /** End the job with FAILED_WITH_ERROR (code STATEMENT_TIMEOUT) when it runs longer than this. */
  timeoutSeconds?: number | null | undefined;
  /**
   * Wait up to this many milliseconds for the job to end before answering (0, the default, answers
   * at once). A job that ends in time comes back terminal, so selecting `result` in the payload
   * returns the first page in the same round trip; otherwise the job comes back as it is, running.
   * At most the server's JOBQL_MAX_WAIT_MS.
   */
  waitMs?: number | null | undefined;
};

export type AuthProbeQueryVariables = Exact<{ [key: string]: never; }>;


export type AuthProbeQuery = { jobs: { pageInfo: { hasNextPage: boolean } } };

export type JobDownloadsQueryVariables = Exact<{
  id: string | number;
}>;


export type JobDownloadsQuery = { job: { id: string, downloads: { csv: string, ndjson: string, arrow: string, parquet: string, expiresAt: string } | null } | null };

export type JobHistoryQueryVariables = Exact<{
  first: number;
  after?: string | null | undefined;
  filter?: JobFilter | null | undefined;
}>;


export type JobHistoryQuery = { jobs: { nodes: Array<{ id: string, status: JobStatus, queryText: string, tag: string | null, submittedAt: string }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type JobStatusSubscriptionVariables = Exact<{
  id: string | number;
  afterSequence?: number | null | undefined;
}>;


export type JobStatusSubscription = { jobStatus: { kind: JobEventKind, sequence: number, status: JobStatus, previousStatus: JobStatus | null, at: string, job: { id: string, isTerminal: boolean, startedAt: string | null, endedAt: string | null, queuePosition: number | null, queueReason: QueueReason | null, progress: { percentage: number | null, rowsProcessed: number | null, totalRowsToProcess: number | null } | null, error: { code: JobErrorCode, sqlState: string | null, message: string } | null } } };

export type CancelJobMutationVariables = Exact<{
  id: string | number;
}>;


export type CancelJobMutation = { cancelJob: { job: { id: string, status: JobStatus } } };

export type JobDetailsQueryVariables = Exact<{
  id: string | number;
}>;


export type JobDetailsQuery = { job: { id: string, queryText: string, tag: string | null, submittedAt: string, statementCount: number, timeoutSeconds: number | null } | null };

export type ResultPageQueryVariables = Exact<{
  id: string | number;
  first: number;
  after?: string | null | undefined;
}>;


export type ResultPageQuery = { job: { id: string, result: { id: string, rows: Array<unknown>, totalRows: number, truncated: boolean, columns: Array<{ name: string, type: string, nullable: boolean }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } | null } | null };

export type SubmitQueryMutationVariables = Exact<{
  input: SubmitQueryInput;
}>;


export type SubmitQueryMutation = { submitQuery: { job: { id: string, status: JobStatus, submittedAt: string } } };


export const AuthProbeDocument = {"__meta__":{"hash":"189c7a9e7ee7f177e34c9a8fab303cd3c41d04d79826d808000855bc155ddae2"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"AuthProbe"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"jobs"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"IntValue","value":"1"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}}]}}]}}]}}]} as unknown as DocumentNode<AuthProbeQuery, AuthProbeQueryVariables>;
export const JobDownloadsDocument = {"__meta__":{"hash":"029ac59005cf91eede2a6c546d0f3f9bd06c3ba488932ba82a5ea8a6f5f5012b"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"JobDownloads"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"job"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"downloads"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"csv"}},{"kind":"Field","name":{"kind":"Name","value":"ndjson"}},{"kind":"Field","name":{"kind":"Name","value":"arrow"}},{"kind":"Field","name":{"kind":"Name","value":"parquet"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}}]}}]}}]}}]} as unknown as DocumentNode<JobDownloadsQuery, JobDownloadsQueryVariables>;
export const JobHistoryDocument = {"__meta__":{"hash":"f394e1e36abb1e674ed97300097f2eac59f7ea12c29b1f9683178e1ca6a8781c"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"JobHistory"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"JobFilter"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"jobs"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}},{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"queryText"}},{"kind":"Field","name":{"kind":"Name","value":"tag"}},{"kind":"Field","name":{"kind":"Name","value":"submittedAt"}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]} as unknown as DocumentNode<JobHistoryQuery, JobHistoryQueryVariables>;
export const JobStatusDocument = {"__meta__":{"hash":"46af8c9e1f8d364e87fc07005d7f703c8dbc17263a4a71ba9a9d235ccb4bd951"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"JobStatus"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"afterSequence"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"jobStatus"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}},{"kind":"Argument","name":{"kind":"Name","value":"afterSequence"},"value":{"kind":"Variable","name":{"kind":"Name","value":"afterSequence"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"sequence"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"previousStatus"}},{"kind":"Field","name":{"kind":"Name","value":"at"}},{"kind":"Field","name":{"kind":"Name","value":"job"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"isTerminal"}},{"kind":"Field","name":{"kind":"Name","value":"startedAt"}},{"kind":"Field","name":{"kind":"Name","value":"endedAt"}},{"kind":"Field","name":{"kind":"Name","value":"queuePosition"}},{"kind":"Field","name":{"kind":"Name","value":"queueReason"}},{"kind":"Field","name":{"kind":"Name","value":"progress"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"percentage"}},{"kind":"Field","name":{"kind":"Name","value":"rowsProcessed"}},{"kind":"Field","name":{"kind":"Name","value":"totalRowsToProcess"}}]}},{"kind":"Field","name":{"kind":"Name","value":"error"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"sqlState"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]}}]} as unknown as DocumentNode<JobStatusSubscription, JobStatusSubscriptionVariables>;
export const CancelJobDocument = {"__meta__":{"hash":"eaeada8c091be6425fdc291f75ae561473d3eaddc3f8c8d2412495dfc6ed6ea3"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CancelJob"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cancelJob"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"job"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]}}]} as unknown as DocumentNode<CancelJobMutation, CancelJobMutationVariables>;
export const JobDetailsDocument = {"__meta__":{"hash":"95e5aa07656744771bbdf6ba0322b122b6f901595c7ee26711539aae739e02ed"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"JobDetails"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"job"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"queryText"}},{"kind":"Field","name":{"kind":"Name","value":"tag"}},{"kind":"Field","name":{"kind":"Name","value":"submittedAt"}},{"kind":"Field","name":{"kind":"Name","value":"statementCount"}},{"kind":"Field","name":{"kind":"Name","value":"timeoutSeconds"}}]}}]}}]} as unknown as DocumentNode<JobDetailsQuery, JobDetailsQueryVariables>;
export const ResultPageDocument = {"__meta__":{"hash":"39c87d236b99f971a47f0f62d7eed613c0e5b616337c9abf607487464b377412"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ResultPage"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"job"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"result"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"columns"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"nullable"}}]}},{"kind":"Field","name":{"kind":"Name","value":"rows"}},{"kind":"Field","name":{"kind":"Name","value":"totalRows"}},{"kind":"Field","name":{"kind":"Name","value":"truncated"}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]}}]} as unknown as DocumentNode<ResultPageQuery, ResultPageQueryVariables>;
export const SubmitQueryDocument = {"__meta__":{"hash":"121e6f4143f1acab9bf471ac90edfa64afa8ef5245443fff1781c8c36b13b401"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SubmitQuery"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"SubmitQueryInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"submitQuery"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"job"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"submittedAt"}}]}}]}}]}}]} as unknown as DocumentNode<SubmitQueryMutation, SubmitQueryMutationVariables>;