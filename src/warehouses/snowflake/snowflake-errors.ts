import { JobErrorCode } from '../../core/errors.ts';
import type { JobError } from '../../core/job.ts';

/** Snowflake error codes with a meaning of their own (the rest map by SQLSTATE class). */
export const SnowflakeCode = {
  CANCELLED: '000604',
  STATEMENT_TIMEOUT: '000630',
  RESULT_EXPIRED: '000710',
  NOT_EXECUTING: '000605',
  SESSION_EXPIRED: '390112',
  SESSION_INVALID: '390104',
  SESSION_GONE: '390111',
  MASTER_TOKEN_EXPIRED: '390114',
} as const;

const BY_CODE: Record<string, JobErrorCode> = {
  [SnowflakeCode.CANCELLED]: JobErrorCode.QUERY_CANCELLED,
  [SnowflakeCode.STATEMENT_TIMEOUT]: JobErrorCode.STATEMENT_TIMEOUT,
  '001003': JobErrorCode.SQL_SYNTAX_ERROR,
  '002003': JobErrorCode.SQL_OBJECT_NOT_FOUND,
  '000904': JobErrorCode.SQL_BINDER_ERROR,
  '000008': JobErrorCode.SQL_INVALID_INPUT,
};

/** SQLSTATE class (its first two characters) to job error code, as for DuckDB's errors. */
const BY_SQLSTATE_CLASS: Record<string, JobErrorCode> = {
  '22': JobErrorCode.SQL_CONVERSION_ERROR,
  '23': JobErrorCode.SQL_CONSTRAINT_VIOLATION,
  '25': JobErrorCode.SQL_TRANSACTION_CONFLICT,
  '40': JobErrorCode.SQL_TRANSACTION_CONFLICT,
  '42': JobErrorCode.SQL_SYNTAX_ERROR,
  '53': JobErrorCode.SQL_OUT_OF_MEMORY,
};

/** The error a driver call failed with: Snowflake's code and SQLSTATE where it gave them. */
export interface DriverFailure {
  code: string | null;
  sqlState: string | null;
  message: string;
}

export function driverFailure(error: unknown): DriverFailure {
  if (error instanceof Error) {
    const { code, sqlState } = error as Error & { code?: unknown; sqlState?: unknown };
    return {
      code: code === undefined || code === null ? null : String(code),
      sqlState: typeof sqlState === 'string' ? sqlState : null,
      message: error.message,
    };
  }
  return { code: null, sqlState: null, message: String(error) };
}

/** A failed Snowflake query as a job error from the closed set. */
export function jobErrorFromSnowflake(failure: DriverFailure): JobError {
  const byCode = failure.code ? BY_CODE[failure.code.padStart(6, '0')] : undefined;
  const bySqlState =
    failure.sqlState === '42501' ? JobErrorCode.SQL_PERMISSION_DENIED : BY_SQLSTATE_CLASS[failure.sqlState?.slice(0, 2) ?? ''];
  return { code: byCode ?? bySqlState ?? JobErrorCode.SQL_ERROR, sqlState: failure.sqlState, message: failure.message };
}
