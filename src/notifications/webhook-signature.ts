import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The signature of a webhook delivery, in the `Jobql-Signature` header:
 *
 *   t=<unix seconds>,v1=<hex HMAC-SHA256 over `${t}.${body}`>[,v1=<...>]
 *
 * keyed with the UTF-8 text of JOBQL_WEBHOOK_SECRET. The timestamp is inside the MAC, so a
 * receiver that also checks it is recent refuses a replayed delivery; the raw body bytes are, so
 * a receiver must verify before parsing (a re-serialised body may differ). During a key rotation
 * there is one `v1` per key, and a receiver holding either key verifies. Unknown fields (a
 * future `v2`) are ignored.
 */
export const SIGNATURE_HEADER = 'Jobql-Signature';

/** Five minutes each way: clock skew and a slow attempt, not long enough to replay at leisure. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** Bounds on what a verifier parses, so a hostile header costs nothing. */
const MAX_HEADER_LENGTH = 4096;
const MAX_SIGNATURES = 8;
const TIMESTAMP = /^\d{1,12}$/;
const HEX_MAC = /^[0-9a-f]{64}$/;

type Body = string | Uint8Array;

/** The header value for `body` sent at `timestampSeconds`: one `v1` per secret, in order. */
export function signWebhook(secret: string | readonly string[], timestampSeconds: number, body: Body): string {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0 || secrets.some((s) => s === '')) throw new Error('signWebhook needs a non-empty secret');
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) throw new Error('the timestamp is whole unix seconds');
  return [`t=${timestampSeconds}`, ...secrets.map((s) => `v1=${mac(s, timestampSeconds, body).toString('hex')}`)].join(',');
}

/**
 * Whether `header` is a valid signature of `body` by one of `secret` (the receiver's key, or its
 * keys during a rotation), made within `toleranceSeconds` of `nowSeconds` either way. Pass the
 * body exactly as received (the raw bytes, or their text). Constant-time per candidate.
 */
export function verifyWebhook(
  secret: string | readonly string[],
  header: string | null | undefined,
  body: Body,
  nowSeconds: number,
  toleranceSeconds: number = DEFAULT_TOLERANCE_SECONDS,
): boolean {
  const secrets = (typeof secret === 'string' ? [secret] : secret).filter((s) => s !== '');
  if (secrets.length === 0 || typeof header !== 'string' || header.length > MAX_HEADER_LENGTH) return false;
  let timestamp: number | null = null;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) return false;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (timestamp !== null || !TIMESTAMP.test(value)) return false;
      timestamp = Number(value);
    } else if (key === 'v1') {
      if (!HEX_MAC.test(value) || signatures.length === MAX_SIGNATURES) return false;
      signatures.push(Buffer.from(value, 'hex'));
    }
  }
  if (timestamp === null || signatures.length === 0) return false;
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  let valid = false;
  // Every pair is compared, so the time taken does not say which key or which v1 matched.
  for (const s of secrets) {
    const expected = mac(s, timestamp, body);
    for (const presented of signatures) valid = timingSafeEqual(expected, presented) || valid;
  }
  return valid;
}

function mac(secret: string, timestampSeconds: number, body: Body): Buffer {
  return createHmac('sha256', secret).update(`${timestampSeconds}.`).update(body).digest();
}
