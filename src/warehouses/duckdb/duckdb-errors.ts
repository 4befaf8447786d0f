import { JobErrorCode } from '../../core/errors.ts';
import type { JobError } from '../../core/job.ts';

/**
 * DuckDB's error messages begin with their class ("Catalog Error: ..."). Each class maps to one
 * job error code and, where one fits, the SQLSTATE of the same meaning.
 */
const BY_CLASS: Record<string, [JobErrorCode, string | null]> = {
  Parser: [JobErrorCode.SQL_SYNTAX_ERROR, '42601'],
  Catalog: [JobErrorCode.SQL_OBJECT_NOT_FOUND, '42P01'],
  Binder: [JobErrorCode.SQL_BINDER_ERROR, '42703'],
  Conversion: [JobErrorCode.SQL_CONVERSION_ERROR, '22018'],
  'Out of Range': [JobErrorCode.SQL_CONVERSION_ERROR, '22003'],
  Constraint: [JobErrorCode.SQL_CONSTRAINT_VIOLATION, '23000'],
  'Invalid Input': [JobErrorCode.SQL_INVALID_INPUT, '22023'],
  Permission: [JobErrorCode.SQL_PERMISSION_DENIED, '42501'],
  'Out of Memory': [JobErrorCode.SQL_OUT_OF_MEMORY, '53200'],
  TransactionContext: [JobErrorCode.SQL_TRANSACTION_CONFLICT, '25000'],
  Transaction: [JobErrorCode.SQL_TRANSACTION_CONFLICT, '40001'],
  'Not implemented': [JobErrorCode.SQL_ERROR, '0A000'],
  // DuckDB's own failures (an assertion, an invalidated instance): not the SQL's fault.
  INTERNAL: [JobErrorCode.WAREHOUSE_ERROR, 'XX000'],
  FATAL: [JobErrorCode.WAREHOUSE_ERROR, 'XX000'],
};

export function jobErrorFromDuckDB(error: unknown): JobError {
  const message = error instanceof Error ? error.message : String(error);
  const match = /^([A-Za-z ]+?) Error: /.exec(message);
  const [code, sqlState] = (match && BY_CLASS[match[1] ?? '']) ?? [JobErrorCode.SQL_ERROR, null];
  return { code, sqlState, message };
}

/**
 * Whether an error means the DuckDB instance is unusable from now on. An INTERNAL error (a failed
 * assertion inside DuckDB) invalidates the whole instance; every later query on any connection
 * then fails with "FATAL Error: Failed: database has been invalidated because of a previous fatal
 * error. The database must be restarted prior to being used again." (measured on 1.5.6 with an
 * unlocked `PRAGMA enable_progress_bar = null`; see docs/ARCHITECTURE.md).
 */
export function isInstanceInvalidated(message: string): boolean {
  // The class prefix only: SQL chooses the text of its own errors (`error('...')`), never the class,
  // so a job cannot pass for a poisoned engine and get the others killed.
  return /^(INTERNAL|FATAL) Error: /.test(message);
}
