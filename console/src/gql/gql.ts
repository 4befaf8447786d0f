/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query AuthProbe {\n    jobs(first: 1) {\n      pageInfo {\n        hasNextPage\n      }\n    }\n  }\n": typeof types.AuthProbeDocument,
    "\n  query JobDownloads($id: ID!) {\n    job(id: $id) {\n      id\n      downloads {\n        csv\n        ndjson\n        arrow\n        parquet\n        expiresAt\n      }\n    }\n  }\n": typeof types.JobDownloadsDocument,
    "\n  query JobHistory($first: Int!, $after: String, $filter: JobFilter) {\n    jobs(first: $first, after: $after, filter: $filter) {\n      nodes {\n        id\n        status\n        queryText\n        tag\n        submittedAt\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": typeof types.JobHistoryDocument,
    "\n  subscription JobStatus($id: ID!, $afterSequence: Int) {\n    jobStatus(id: $id, afterSequence: $afterSequence) {\n      kind\n      sequence\n      status\n      previousStatus\n      at\n      job {\n        id\n        isTerminal\n        startedAt\n        endedAt\n        queuePosition\n        queueReason\n        progress {\n          percentage\n          rowsProcessed\n          totalRowsToProcess\n        }\n        error {\n          code\n          sqlState\n          message\n        }\n      }\n    }\n  }\n": typeof types.JobStatusDocument,
    "\n  mutation CancelJob($id: ID!) {\n    cancelJob(id: $id) {\n      job {\n        id\n        status\n      }\n    }\n  }\n": typeof types.CancelJobDocument,
    "\n  query JobDetails($id: ID!) {\n    job(id: $id) {\n      id\n      queryText\n      tag\n      submittedAt\n      statementCount\n      timeoutSeconds\n    }\n  }\n": typeof types.JobDetailsDocument,
    "\n  query ResultPage($id: ID!, $first: Int!, $after: String) {\n    job(id: $id) {\n      id\n      result(first: $first, after: $after) {\n        id\n        columns {\n          name\n          type\n          nullable\n        }\n        rows\n        totalRows\n        truncated\n        pageInfo {\n          hasNextPage\n          endCursor\n        }\n      }\n    }\n  }\n": typeof types.ResultPageDocument,
    "\n  mutation SubmitQuery($input: SubmitQueryInput!) {\n    submitQuery(input: $input) {\n      job {\n        id\n        status\n        submittedAt\n      }\n    }\n  }\n": typeof types.SubmitQueryDocument,
};
const documents: Documents = {
    "\n  query AuthProbe {\n    jobs(first: 1) {\n      pageInfo {\n        hasNextPage\n      }\n    }\n  }\n": types.AuthProbeDocument,
    "\n  query JobDownloads($id: ID!) {\n    job(id: $id) {\n      id\n      downloads {\n        csv\n        ndjson\n        arrow\n        parquet\n        expiresAt\n      }\n    }\n  }\n": types.JobDownloadsDocument,
    "\n  query JobHistory($first: Int!, $after: String, $filter: JobFilter) {\n    jobs(first: $first, after: $after, filter: $filter) {\n      nodes {\n        id\n        status\n        queryText\n        tag\n        submittedAt\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": types.JobHistoryDocument,
    "\n  subscription JobStatus($id: ID!, $afterSequence: Int) {\n    jobStatus(id: $id, afterSequence: $afterSequence) {\n      kind\n      sequence\n      status\n      previousStatus\n      at\n      job {\n        id\n        isTerminal\n        startedAt\n        endedAt\n        queuePosition\n        queueReason\n        progress {\n          percentage\n          rowsProcessed\n          totalRowsToProcess\n        }\n        error {\n          code\n          sqlState\n          message\n        }\n      }\n    }\n  }\n": types.JobStatusDocument,
    "\n  mutation CancelJob($id: ID!) {\n    cancelJob(id: $id) {\n      job {\n        id\n        status\n      }\n    }\n  }\n": types.CancelJobDocument,
    "\n  query JobDetails($id: ID!) {\n    job(id: $id) {\n      id\n      queryText\n      tag\n      submittedAt\n      statementCount\n      timeoutSeconds\n    }\n  }\n": types.JobDetailsDocument,
    "\n  query ResultPage($id: ID!, $first: Int!, $after: String) {\n    job(id: $id) {\n      id\n      result(first: $first, after: $after) {\n        id\n        columns {\n          name\n          type\n          nullable\n        }\n        rows\n        totalRows\n        truncated\n        pageInfo {\n          hasNextPage\n          endCursor\n        }\n      }\n    }\n  }\n": types.ResultPageDocument,
    "\n  mutation SubmitQuery($input: SubmitQueryInput!) {\n    submitQuery(input: $input) {\n      job {\n        id\n        status\n        submittedAt\n      }\n    }\n  }\n": types.SubmitQueryDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AuthProbe {\n    jobs(first: 1) {\n      pageInfo {\n        hasNextPage\n      }\n    }\n  }\n"): (typeof documents)["\n  query AuthProbe {\n    jobs(first: 1) {\n      pageInfo {\n        hasNextPage\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query JobDownloads($id: ID!) {\n    job(id: $id) {\n      id\n      downloads {\n        csv\n        ndjson\n        arrow\n        parquet\n        expiresAt\n      }\n    }\n  }\n"): (typeof documents)["\n  query JobDownloads($id: ID!) {\n    job(id: $id) {\n      id\n      downloads {\n        csv\n        ndjson\n        arrow\n        parquet\n        expiresAt\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query JobHistory($first: Int!, $after: String, $filter: JobFilter) {\n    jobs(first: $first, after: $after, filter: $filter) {\n      nodes {\n        id\n        status\n        queryText\n        tag\n        submittedAt\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"): (typeof documents)["\n  query JobHistory($first: Int!, $after: String, $filter: JobFilter) {\n    jobs(first: $first, after: $after, filter: $filter) {\n      nodes {\n        id\n        status\n        queryText\n        tag\n        submittedAt\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription JobStatus($id: ID!, $afterSequence: Int) {\n    jobStatus(id: $id, afterSequence: $afterSequence) {\n      kind\n      sequence\n      status\n      previousStatus\n      at\n      job {\n        id\n        isTerminal\n        startedAt\n        endedAt\n        queuePosition\n        queueReason\n        progress {\n          percentage\n          rowsProcessed\n          totalRowsToProcess\n        }\n        error {\n          code\n          sqlState\n          message\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  subscription JobStatus($id: ID!, $afterSequence: Int) {\n    jobStatus(id: $id, afterSequence: $afterSequence) {\n      kind\n      sequence\n      status\n      previousStatus\n      at\n      job {\n        id\n        isTerminal\n        startedAt\n        endedAt\n        queuePosition\n        queueReason\n        progress {\n          percentage\n          rowsProcessed\n          totalRowsToProcess\n        }\n        error {\n          code\n          sqlState\n          message\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CancelJob($id: ID!) {\n    cancelJob(id: $id) {\n      job {\n        id\n        status\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CancelJob($id: ID!) {\n    cancelJob(id: $id) {\n      job {\n        id\n        status\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query JobDetails($id: ID!) {\n    job(id: $id) {\n      id\n      queryText\n      tag\n      submittedAt\n      statementCount\n      timeoutSeconds\n    }\n  }\n"): (typeof documents)["\n  query JobDetails($id: ID!) {\n    job(id: $id) {\n      id\n      queryText\n      tag\n      submittedAt\n      statementCount\n      timeoutSeconds\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ResultPage($id: ID!, $first: Int!, $after: String) {\n    job(id: $id) {\n      id\n      result(first: $first, after: $after) {\n        id\n        columns {\n          name\n          type\n          nullable\n        }\n        rows\n        totalRows\n        truncated\n        pageInfo {\n          hasNextPage\n          endCursor\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query ResultPage($id: ID!, $first: Int!, $after: String) {\n    job(id: $id) {\n      id\n      result(first: $first, after: $after) {\n        id\n        columns {\n          name\n          type\n          nullable\n        }\n        rows\n        totalRows\n        truncated\n        pageInfo {\n          hasNextPage\n          endCursor\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SubmitQuery($input: SubmitQueryInput!) {\n    submitQuery(input: $input) {\n      job {\n        id\n        status\n        submittedAt\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation SubmitQuery($input: SubmitQueryInput!) {\n    submitQuery(input: $input) {\n      job {\n        id\n        status\n        submittedAt\n      }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;