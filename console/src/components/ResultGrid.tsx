import { useId, useRef, useState } from 'react';
import { useQuery } from 'urql';
import { describeError } from '../errors';
import { graphql } from '../gql';
import type { ResultPageQuery } from '../gql/graphql';
import { ErrorView } from './ErrorView';

const ResultPage = graphql(`
  query ResultPage($id: ID!, $first: Int!, $after: String) {
    job(id: $id) {
      id
      result(first: $first, after: $after) {
        id
        columns {
          name
          type
          nullable
        }
        rows
        totalRows
        truncated
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`);

/** Rows per page: the server's default page limit. */
export const PAGE_SIZE = 100;

type Page = NonNullable<NonNullable<ResultPageQuery['job']>['result']>;

/** A cell's text and kind (numbers right-aligned, NULL and nested values marked). */
function cell(value: unknown): { text: string; kind: string } {
  if (value === null || value === undefined) return { text: 'NULL', kind: 'null' };
  if (typeof value === 'number') return { text: String(value), kind: 'number' };
  if (typeof value === 'boolean') return { text: String(value), kind: 'boolean' };
  if (typeof value === 'string') return { text: value, kind: 'text' };
  return { text: JSON.stringify(value), kind: 'json' };
}

/** The result, a page at a time by cursor: each column's name and warehouse type, the rows, Previous/Next. */
export function ResultGrid({ jobId }: { jobId: string }) {
  // The cursor of every page so far: the last is the one shown (null: the first page).
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors.at(-1) ?? null;
  const [result] = useQuery({ query: ResultPage, variables: { id: jobId, first: PAGE_SIZE, after } });
  const captionId = useId();
  // While the next page loads, the one before stays (with its own row numbers): no jump.
  const shown = useRef<{ page: Page; offset: number } | null>(null);
  const fresh = result.operation?.variables.after === after ? result.data?.job?.result : undefined;
  if (fresh) shown.current = { page: fresh, offset: (cursors.length - 1) * PAGE_SIZE };
  const view = fresh || result.fetching ? shown.current : null;

  if (result.error) return <ErrorView title="The result could not be read" error={describeError(result.error)} />;
  if (!view) return <p className="muted">{result.fetching ? 'Reading the result…' : 'No result.'}</p>;

  const { page, offset } = view;
  const range = page.rows.length ? `Rows ${(offset + 1).toLocaleString()}–${(offset + page.rows.length).toLocaleString()}` : 'No rows';
  return (
    <div className="result">
      <div className="result-bar">
        <p id={captionId} className="result-summary" aria-live="polite">
          {range} of {page.totalRows.toLocaleString()}
          {page.truncated && <span className="warn"> (cut at the server&apos;s row cap)</span>}
        </p>
        <div className="pager">
          <button type="button" disabled={cursors.length === 1 || result.fetching} onClick={() => setCursors((c) => c.slice(0, -1))}>
            ← Previous page
          </button>
          <button
            type="button"
            disabled={!page.pageInfo.hasNextPage || result.fetching}
            onClick={() => setCursors((c) => [...c, page.pageInfo.endCursor ?? null])}
          >
            Next page →
          </button>
        </div>
      </div>
      <div className="grid-scroll" tabIndex={0} role="region" aria-labelledby={captionId}>
        <table className="grid" aria-describedby={captionId}>
          <thead>
            <tr>
              <th scope="col" className="rownum">
                #
              </th>
              {page.columns.map((column, i) => (
                <th scope="col" key={i}>
                  <span className="col-name">{column.name}</span>
                  <span className="col-type">
                    {column.type}
                    {column.nullable ? '' : ' NOT NULL'}
                  </span>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {page.rows.map((row, r) => (
              <tr key={offset + r}>
                <th scope="row" className="rownum">
                  {offset + r + 1}
                </th>
                {(Array.isArray(row) ? row : [row]).map((value: unknown, c) => {
                  const { text, kind } = cell(value);
                  return (
                    <td key={c} className={`cell-${kind}`}>
                      {text}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
