/**
 * The operations GraphiQL opens with, one tab per root field, so a first visit shows what the API
 * does. test/e2e/graphiql-tabs.test.ts validates each against the schema and checks every root field has one.
 */
export const GRAPHIQL_TABS: { query: string; variables?: string }[] = [
  {
    query: `# Submit SQL: the job comes back at once, QUEUED.
# Copy its id into the other tabs' variables.
mutation SubmitQuery {
  submitQuery(input: { sql: "select range as n, range * range as square from range(1000)", tag: "graphiql" }) {
    job { id status submittedAt }
  }
}
`,
  },
  {
    query: `# Follow a job live: its current state, every
# transition, then completion (over graphql-ws).
subscription JobStatus($id: ID!) {
  jobStatus(id: $id) {
    sequence
    status
    previousStatus
    at
    job { isDone isFailed error { code message } }
  }
}
`,
    variables: '{ "id": "paste a job id" }',
  },
  {
    query: `# A job and the first page of its result; pass
# pageInfo.endCursor as $after for the next page.
query Job($id: ID!, $after: String) {
  job(id: $id) {
    id
    status
    queryText
    startedAt
    endedAt
    error { code sqlState message }
    dml { rowsInserted rowsUpdated rowsDeleted }
    result(first: 10, after: $after) {
      id
      columns { name type }
      rows
      totalRows
      pageInfo { hasNextPage endCursor }
    }
    downloads { csv ndjson arrow parquet }
  }
}
`,
    variables: '{ "id": "paste a job id" }',
  },
  {
    query: `# Your recent jobs, newest first; filter by status,
# tag or submission time.
query Jobs {
  jobs(first: 20, filter: { status: [SUCCESS, FAILED_WITH_ERROR, ABORTED] }) {
    nodes { id status tag submittedAt endedAt }
    pageInfo { hasNextPage endCursor }
  }
}
`,
  },
  {
    query: `# Cancel: the job goes to ABORTING at once, then
# ABORTED. Try it on a long query:
# select sum(hash(range)) from range(10000000000)
mutation CancelJob($id: ID!) {
  cancelJob(id: $id) {
    job { id status }
  }
}
`,
    variables: '{ "id": "paste a job id" }',
  },
  {
    query: `# Track a query started elsewhere (Snowflake's query id) as a job.
# Needs the admin scope and JOBQL_ALLOW_ATTACH.
mutation AttachQuery($queryId: String!) {
  attachQuery(queryId: $queryId) {
    job { id status queryId queryText }
  }
}
`,
    variables: '{ "queryId": "01b2c3d4-0000-1111-0000-000000000001" }',
  },
];
