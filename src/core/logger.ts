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
