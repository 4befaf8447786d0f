import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config.ts';
import type { Clock } from '../core/clock.ts';
import type { Job } from '../core/job.ts';
import type { Principal } from '../core/principal.ts';
import type { DownloadFormat } from '../core/results.ts';

/**
 * Signed download links: what lets a browser fetch a result with no `Authorization` header (an
 * `<a href>`, a new tab, a page on another origin). A link is the download path plus
 *
 *   ?principal=<owner>&expires=<unix seconds>&sig=<base64url HMAC-SHA256>
 *
 * where the MAC covers a canonical string of the scheme's version, the job id, the format, the
 * principal and the expiry (a JSON array, so no field can bleed into the next). Changing any of
 * them, or presenting the link after `expires`, fails the check. The link names the job's owner,
 * whoever asked for it: an admin's link grants the owner's view of one file and carries no admin
 * rights, and every principal who may see the job gets the same link (which subscriptions' shared
 * execution relies on). The download route then reads the job as that principal, so the one
 * ownership check (JobService.get) still decides.
 *
 * Revocation is by key: links verify against the current key or the previous one (kept for a
 * rotation, so links minted a moment before it keep working); a key that is neither revokes every
 * link it signed. Without a configured key each process draws a random one, and its links die
 * with it.
 */

/** The scheme's version, inside the MAC: a future scheme cannot be fed a link of this one. */
const VERSION = 'jobql-download-link/1';
/** The query parameters of a link; `sig` is the secret part and must never be logged. */
export const LINK_PARAMS = { principal: 'principal', expires: 'expires', sig: 'sig' } as const;
/** A SHA-256 MAC in base64url, unpadded. */
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;
const EXPIRES = /^\d{1,12}$/;

export type DownloadLinkSettings = Config['downloads'];

/** The paths of one job's result, signed, and when they stop working. */
export interface SignedDownloads {
  csv: string;
  ndjson: string;
  arrow: string;
  parquet: string;
  expiresAt: Date;
}

/** What a presented link proved: the principal it acts for, or why it proves nothing. */
export type LinkCheck =
  | { ok: true; principal: Principal; expiresAt: Date }
  | { ok: false; reason: 'invalid' | 'expired'; message: string };

/** The path of a job's result in one format, unsigned: it needs the `Authorization` header. */
export function downloadPath(jobId: string, format: DownloadFormat): string {
  return `/jobs/${encodeURIComponent(jobId)}/result.${format}`;
}

export class DownloadLinks {
  readonly #current: Buffer;
  readonly #previous: Buffer | null;
  readonly #ttlMs: number;
  readonly #clock: Clock;

  constructor(settings: DownloadLinkSettings, clock: Clock) {
    this.#current = settings.signingKey?.reveal() ?? randomBytes(32);
    this.#previous = settings.previousSigningKey?.reveal() ?? null;
    this.#ttlMs = settings.linkTtlSeconds * 1000;
    this.#clock = clock;
  }

  /**
   * Links to every format of `job` for `requester` (who may see it): they expire after the
   * configured lifetime, never after the result does, nor after the requester's own credentials
   * (a JWT's `exp`), whichever comes first.
   */
  mint(job: Job, requester: Principal): SignedDownloads {
    let until = this.#clock.now().getTime() + this.#ttlMs;
    if (job.resultExpiresAt) until = Math.min(until, job.resultExpiresAt.getTime());
    if (requester.expiresAt) until = Math.min(until, requester.expiresAt.getTime());
    const expires = Math.max(0, Math.floor(until / 1000));
    const link = (format: DownloadFormat): string => {
      const query = new URLSearchParams({
        [LINK_PARAMS.principal]: job.owner,
        [LINK_PARAMS.expires]: String(expires),
        [LINK_PARAMS.sig]: this.#mac(this.#current, job.id, format, job.owner, expires).toString('base64url'),
      });
      return `${downloadPath(job.id, format)}?${query}`;
    };
    return {
      csv: link('csv'),
      ndjson: link('ndjson'),
      arrow: link('arrow'),
      parquet: link('parquet'),
      expiresAt: new Date(expires * 1000),
    };
  }

  /**
   * Checks the link parameters of a request for `jobId`'s result in `format`. The MAC is checked
   * first (in constant time, against both keys), so `expired` is only ever said of a genuine link.
   */
  verify(jobId: string, format: DownloadFormat, query: URLSearchParams): LinkCheck {
    const one = (name: string): string | null => {
      const values = query.getAll(name);
      return values.length === 1 ? values[0]! : null;
    };
    const principalId = one(LINK_PARAMS.principal);
    const expiresText = one(LINK_PARAMS.expires);
    const sig = one(LINK_PARAMS.sig);
    const invalid: LinkCheck = {
      ok: false,
      reason: 'invalid',
      message:
        'This download link is not valid: it was altered, or signed with a key this server no longer accepts. ' +
        'Ask Job.downloads for a new one, or send an Authorization header without the link parameters.',
    };
    if (!principalId || !expiresText || !sig || !EXPIRES.test(expiresText) || !SIGNATURE.test(sig)) return invalid;
    const expires = Number(expiresText);
    const presented = Buffer.from(sig, 'base64url');
    const current = this.#mac(this.#current, jobId, format, principalId, expires);
    // Both keys are always tried, so the time taken does not tell which one signed the link.
    const matchesCurrent = timingSafeEqual(presented, current);
    const matchesPrevious = this.#previous ? timingSafeEqual(presented, this.#mac(this.#previous, jobId, format, principalId, expires)) : false;
    if (!matchesCurrent && !matchesPrevious) return invalid;
    const expiresAt = new Date(expires * 1000);
    if (expiresAt.getTime() <= this.#clock.now().getTime()) {
      return {
        ok: false,
        reason: 'expired',
        message: `This download link expired at ${expiresAt.toISOString()}; ask Job.downloads for a new one`,
      };
    }
    // The principal is rebuilt from its id alone: a link never carries admin rights.
    return { ok: true, principal: { id: principalId, admin: false, expiresAt }, expiresAt };
  }

  #mac(key: Buffer, jobId: string, format: DownloadFormat, principalId: string, expires: number): Buffer {
    return createHmac('sha256', key).update(JSON.stringify([VERSION, jobId, format, principalId, expires])).digest();
  }
}

/** Whether a request's query presents a link (it has `sig`), which then alone decides. */
export function presentsLink(query: URLSearchParams): boolean {
  return query.has(LINK_PARAMS.sig);
}

/**
 * A request URL fit for a log line: the signature, a bearer credential until it expires, replaced
 * by `REDACTED` (the principal and expiry are no secret and stay, for the record).
 */
export function redactedUrl(url: string | undefined): string {
  if (!url) return '';
  const mark = url.indexOf('?');
  if (mark === -1) return url;
  const query = new URLSearchParams(url.slice(mark + 1));
  if (!query.has(LINK_PARAMS.sig)) return url;
  query.set(LINK_PARAMS.sig, 'REDACTED');
  return `${url.slice(0, mark)}?${query}`;
}
