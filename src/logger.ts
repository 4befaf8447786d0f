import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * Structured logs on stdout: JSON lines for machines (a container, a log shipper), readable
 * coloured lines for a person at a terminal. `auto` picks by whether stdout is a terminal.
 */
export function createLogger(level: string, format: LogFormat = 'json', terminal = process.stdout.isTTY === true): Logger {
  const options = { level, base: { service: 'jobql' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (resolveLogFormat(format, terminal) === 'json') return pino(options);
  // In this thread and synchronous, so the last lines before an exit are never lost.
  return pino(options, pretty({ sync: true, colorize: terminal, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }));
}

export function resolveLogFormat(format: LogFormat, terminal: boolean): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  return terminal ? 'pretty' : 'json';
}
