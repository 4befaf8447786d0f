import { RequestErrorCode, requestErrorCode } from './errors.ts';

/**
 * What the application needs of a logger: pino's call forms (an object of fields, then the
 * message). pino's Logger satisfies it; tests may pass anything that does.
 */
export interface LogFn {
  (fields: object, message?: string): void;
  (message: string): void;
}

export interface Logger {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

/**
 * A background pass (a poll tick, a dispatch, a lease pass, a sweep) failed. While a shared
 * dependency is away every pass fails the same way, and the outage itself is logged once where it
 * is noticed (cluster/outages.ts): those failures go to debug, so the log says "PostgreSQL does not
 * answer" once instead of four errors a second.
 */
export function logPassFailure(logger: Logger, error: unknown, message: string): void {
  if (requestErrorCode(error) === RequestErrorCode.SERVICE_UNAVAILABLE) logger.debug({ err: error }, message);
  else logger.error({ err: error }, message);
}
