import { useEffect, useState } from 'react';
import { useQuery } from 'urql';
import { describeError } from '../errors';
import { graphql } from '../gql';
import { ErrorView } from './ErrorView';

/**
 * The result's download links (`Job.downloads`): signed, so a plain `<a href download>` works with
 * no Authorization header, and short-lived (`expiresAt`), so they are read again before they end.
 */
const JobDownloads = graphql(`
  query JobDownloads($id: ID!) {
    job(id: $id) {
      id
      downloads {
        csv
        ndjson
        arrow
        parquet
        expiresAt
      }
    }
  }
`);

const FORMATS = [
  ['csv', 'CSV'],
  ['ndjson', 'NDJSON'],
  ['arrow', 'Arrow'],
  ['parquet', 'Parquet'],
] as const;

/** Renew this long before the links expire (at most a quarter of their lifetime). */
const RENEW_AHEAD_MS = 15_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Links that download the whole result, streamed by the server, in each format. */
export function Downloads({ jobId }: { jobId: string }) {
  const [result, renew] = useQuery({ query: JobDownloads, variables: { id: jobId } });
  const links = result.data?.job?.downloads;
  const expiresAt = links?.expiresAt;
  // When the current links arrived: their lifetime is expiresAt minus this.
  const [receivedAt, setReceivedAt] = useState(0);
  useEffect(() => setReceivedAt(Date.now()), [expiresAt]);
  useEffect(() => {
    if (!expiresAt || !receivedAt) return undefined;
    const end = Date.parse(expiresAt);
    const ahead = Math.min(RENEW_AHEAD_MS, (end - receivedAt) / 4);
    const wait = end - ahead - Date.now();
    // Links that can live no longer (capped by the result's or the token's own expiry) are not renewed.
    if (wait <= 0) return undefined;
    const timer = setTimeout(() => renew(), Math.min(wait, MAX_TIMER_MS));
    return () => clearTimeout(timer);
  }, [expiresAt, receivedAt, renew]);

  if (result.error) return <ErrorView title="No download links" error={describeError(result.error)} />;
  if (!links) return null;
  return (
    <nav className="downloads" aria-label="Download the result">
      <span>Download</span>
      {FORMATS.map(([format, label]) => (
        <a key={format} href={links[format]} download={`${jobId}.${format}`}>
          {label}
        </a>
      ))}
    </nav>
  );
}
