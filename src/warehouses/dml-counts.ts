import type { DmlCounts } from '../core/job.ts';

/** The DML counts of several statements added up; null when none of them changed rows. */
export function addDmlCounts(total: DmlCounts | null, more: DmlCounts | null): DmlCounts | null {
  if (!more) return total;
  if (!total) return more;
  return {
    rowsInserted: total.rowsInserted + more.rowsInserted,
    rowsUpdated: total.rowsUpdated + more.rowsUpdated,
    rowsDeleted: total.rowsDeleted + more.rowsDeleted,
  };
}
