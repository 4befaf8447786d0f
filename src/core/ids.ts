/**
 * The id formats, made and read here only. A job id is `job_` and a UUID's 32 hex digits, so it is
 * also a UUID in another spelling: the Snowflake adapter sends it as the request id, and a submit
 * repeated after a restart is recognised by Snowflake as the same request. Query ids are the
 * warehouse's; Snowflake's form is a UUID, and the embedded engine uses the same form.
 */
const JOB_ID = /^job_([0-9a-f]{32})$/;
const QUERY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function newJobId(): string {
  return `job_${globalThis.crypto.randomUUID().replaceAll('-', '')}`;
}

export function isJobId(value: string): boolean {
  return JOB_ID.test(value);
}

/** The UUID a job id spells (its request id at the warehouse). */
export function jobIdAsUuid(jobId: string): string {
  const hex = JOB_ID.exec(jobId)?.[1];
  if (!hex) throw new Error(`Job id ${jobId} is not job_ + 32 hex digits`);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function isQueryId(value: string): boolean {
  return QUERY_ID.test(value);
}

/** Query ids are compared and stored in lower case. */
export function normalizeQueryId(queryId: string): string {
  return queryId.toLowerCase();
}
