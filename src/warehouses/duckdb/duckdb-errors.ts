import { JobErrorCode } from '../../errors.ts';
import type { JobError } from '../../jobs/job.ts';

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
};

export function jobErrorFromDuckDB(error: unknown): JobError {
  const message = error instanceof Error ? error.message : String(error);
  const match = /^([A-Za-z ]+?) Error: /.exec(message);
  const [code, sqlState] = (match && BY_CLASS[match[1] ?? '']) ?? [JobErrorCode.SQL_ERROR, null];
  return { code, sqlState, message };
}
