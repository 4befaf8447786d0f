import { type FormEvent, type KeyboardEvent, useId, useRef, useState } from 'react';
import { useMutation } from 'urql';
import { describeError } from '../errors';
import { graphql } from '../gql';
import type { SubmitQueryInput } from '../gql/graphql';
import { ErrorView } from './ErrorView';
import type { SubmittedJob } from './JobView';

const SubmitQuery = graphql(`
  mutation SubmitQuery($input: SubmitQueryInput!) {
    submitQuery(input: $input) {
      job {
        id
        status
        submittedAt
      }
    }
  }
`);

const EXAMPLE = "select range as n, 'x' || range as s from range(250)";

type Binding = string | number | boolean | null;

/** The bindings field: empty, or a JSON array of scalars (positional `?` / `$n` parameters). */
export function parseBindings(text: string): { values: Binding[] | null } | { error: string } {
  if (!text.trim()) return { values: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { error: 'Bindings are not valid JSON.' };
  }
  if (!Array.isArray(parsed)) return { error: 'Bindings must be a JSON array, e.g. ["hello", 41].' };
  const scalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);
  if (!parsed.every(scalar)) return { error: 'Each binding must be a string, number, boolean or null.' };
  return { values: parsed as Binding[] };
}

/** The SQL form: SQL, bindings, tag and timeout; Run (or Ctrl+Enter) submits a job. */
export function SqlEditor({ onSubmitted }: { onSubmitted(job: SubmittedJob): void }) {
  const [sql, setSql] = useState(EXAMPLE);
  const [bindings, setBindings] = useState('');
  const [tag, setTag] = useState('');
  const [timeoutSeconds, setTimeoutSeconds] = useState('');
  const [bindingsError, setBindingsError] = useState<string | null>(null);
  const [submission, submit] = useMutation(SubmitQuery);
  const form = useRef<HTMLFormElement>(null);
  const id = useId();

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const parsed = parseBindings(bindings);
    if ('error' in parsed) {
      setBindingsError(parsed.error);
      return;
    }
    setBindingsError(null);
    const input: SubmitQueryInput = { sql };
    if (parsed.values) input.bindings = parsed.values;
    if (tag.trim()) input.tag = tag.trim();
    if (timeoutSeconds) input.timeoutSeconds = Number(timeoutSeconds);
    const result = await submit({ input });
    const job = result.data?.submitQuery.job;
    if (job) onSubmitted(job);
  };

  // Ctrl+Enter (⌘+Enter on a Mac) runs from any field of the form.
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.current?.requestSubmit();
    }
  };

  return (
    <form ref={form} className="editor" aria-label="Run SQL" onSubmit={onSubmit} onKeyDown={onKeyDown}>
      <label htmlFor={`${id}-sql`}>SQL</label>
      <textarea
        id={`${id}-sql`}
        className="sql"
        rows={5}
        spellCheck={false}
        required
        aria-describedby={`${id}-hint`}
        value={sql}
        onChange={(event) => setSql(event.target.value)}
      />
      <div className="editor-row">
        <div className="field bindings">
          <label htmlFor={`${id}-bindings`}>Bindings (JSON array)</label>
          <input
            id={`${id}-bindings`}
            className="mono"
            spellCheck={false}
            placeholder='["hello", 41]'
            aria-invalid={bindingsError ? true : undefined}
            aria-describedby={bindingsError ? `${id}-bindings-error` : undefined}
            value={bindings}
            onChange={(event) => setBindings(event.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-tag`}>Tag</label>
          <input id={`${id}-tag`} value={tag} onChange={(event) => setTag(event.target.value)} />
        </div>
        <div className="field timeout">
          <label htmlFor={`${id}-timeout`}>Timeout (s)</label>
          <input
            id={`${id}-timeout`}
            type="number"
            min={1}
            step={1}
            inputMode="numeric"
            value={timeoutSeconds}
            onChange={(event) => setTimeoutSeconds(event.target.value)}
          />
        </div>
        <div className="run">
          <button type="submit" className="primary" disabled={submission.fetching}>
            {submission.fetching ? 'Submitting…' : 'Run'}
          </button>
          <span id={`${id}-hint`} className="hint">
            <kbd>Ctrl</kbd>+<kbd>Enter</kbd>
          </span>
        </div>
      </div>
      {bindingsError && (
        <p id={`${id}-bindings-error`} className="field-error" role="alert">
          {bindingsError}
        </p>
      )}
      {submission.error && <ErrorView title="The job was not submitted" error={describeError(submission.error)} />}
    </form>
  );
}
