import { authMessage, type Problem } from '../errors';
import { useToken } from '../token';

/** A job's error (`Job.error`) or a failed request's (`extensions.code`). */
export interface ShownError {
  code: string | null;
  sqlState?: string | null;
  message: string;
}

/** An error with its code (and SQLSTATE, for a job's), so it can be looked up in the README. */
export function ErrorView({ error, title }: { error: ShownError | Problem; title?: string }) {
  const { token } = useToken();
  const message = error.code === 'UNAUTHENTICATED' ? authMessage(error, !!token) : error.message;
  // Only a job's error has the field (null where no SQLSTATE applies).
  const sqlState = 'sqlState' in error ? error.sqlState : undefined;
  return (
    <div className={sqlState !== undefined ? 'error error-sql' : 'error'} role="alert">
      {title && <p className="error-title">{title}</p>}
      {(error.code || sqlState) && (
        <p className="error-codes">
          {error.code && <code className="error-code">{error.code}</code>}
          {sqlState && (
            <span className="error-sqlstate">
              SQLSTATE <code>{sqlState}</code>
            </span>
          )}
        </p>
      )}
      <p className="error-message">{message}</p>
    </div>
  );
}
