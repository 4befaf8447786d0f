/**
 * Errors that mean a server (PostgreSQL, Redis) is not there now, as opposed to one that answered
 * with a refusal: socket errors, and PostgreSQL's connection and shutdown classes (08, 57P01–03).
 */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'EPIPE']);
const POSTGRES_CODES = /^(08\d\d\d|57P0[123])$/;
/** node-postgres reports a connection that dropped, or a connect that timed out, by message only. */
const DROPPED = /^Connection terminated|^timeout exceeded when trying to connect/;

export function isUnreachable(error: unknown): boolean {
  if (error instanceof AggregateError) return error.errors.some(isUnreachable);
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || POSTGRES_CODES.test(code))) return true;
  return DROPPED.test(error.message);
}
