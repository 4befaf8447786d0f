import { RequestErrorCode, requestError } from '../core/errors.ts';

/**
 * Opaque cursors: base64url of a kind and a number. They name a position (a job's insertion order,
 * a row's offset), not a server-side state, so they stay valid across restarts.
 */
export function encodeCursor(kind: 'job' | 'row', position: number): string {
  return Buffer.from(`${kind}:${position}`).toString('base64url');
}

export function decodeCursor(kind: 'job' | 'row', cursor: string, argument: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(job|row):(\d{1,15})$/.exec(text);
  if (!match || match[1] !== kind) {
    throw requestError(RequestErrorCode.BAD_USER_INPUT, `${argument} is not a cursor this field gave out`, {
      argument,
    });
  }
  return Number(match[2]);
}

/** Validates a `first` argument against the server's page limits. */
export function pageSize(first: number | null | undefined, defaultSize: number, maxSize: number): number {
  if (first === null || first === undefined) return defaultSize;
  if (first < 1) throw requestError(RequestErrorCode.BAD_USER_INPUT, 'first must be at least 1', { argument: 'first' });
  if (first > maxSize) {
    throw requestError(RequestErrorCode.LIMIT_EXCEEDED, `first is ${first}; the limit is ${maxSize}`, {
      argument: 'first',
    });
  }
  return first;
}
