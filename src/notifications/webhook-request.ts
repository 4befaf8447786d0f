import type { LookupAddress, LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { bareHostname, portOf } from './allowed-hosts.ts';

/** A receiver's answer is read up to this much, then dropped: only its status matters. */
export const MAX_RESPONSE_BYTES = 16 * 1024;
/** Bounds on what of the receiver's answer goes into `lastError`. */
const MAX_ERROR_LENGTH = 300;

export interface WebhookRequest {
  url: URL;
  /** The address address-policy.ts chose: the only one the socket may connect to. */
  address: string;
  family: 4 | 6;
  headers: Readonly<Record<string, string>>;
  body: string;
  /** Aborts the attempt (its timeout, or the sender stopping); `reason` says which. */
  signal: AbortSignal;
}

export type WebhookResponse = { delivered: true; status: number } | { delivered: false; status: number | null; error: string };

/**
 * One POST of a delivery. Connects only to `address` (the lookup is pinned), while the Host
 * header, TLS SNI and certificate check use the URL's host name. Redirects are never followed:
 * a 3xx is a failure. Never rejects; a failure is described in `error`.
 */
export function postWebhook(request: WebhookRequest): Promise<WebhookResponse> {
  const { url, signal } = request;
  const host = bareHostname(url.hostname);
  const secure = url.protocol === 'https:';
  const options: https.RequestOptions = {
    method: 'POST',
    protocol: url.protocol,
    hostname: host,
    port: portOf(url),
    path: `${url.pathname}${url.search}`,
    headers: { ...request.headers, host: url.host, 'content-length': String(Buffer.byteLength(request.body)) },
    lookup: pinnedLookup(request.address, request.family),
    // A fresh connection each time: no pooled socket to an address checked for another attempt,
    // and no proxy from the environment (which would connect where it likes).
    agent: false,
    ...(secure && isIP(host) === 0 ? { servername: host } : {}),
  };
  return new Promise((resolve) => {
    let settled = false;
    let answered: WebhookResponse | null = null;
    const finish = (result: WebhookResponse): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      req.destroy();
      resolve(result);
    };
    // After the status line, the outcome is known: a slow or endless body does not change it.
    const onAbort = (): void =>
      finish(answered ?? { delivered: false, status: null, error: describeAbort(signal.reason) });
    const req = (secure ? https : http).request(options, (response) => {
      const status = response.statusCode ?? 0;
      answered = outcome(status, response.statusMessage, response.headers.location);
      let read = 0;
      response.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_RESPONSE_BYTES) finish(answered!);
      });
      response.on('end', () => finish(answered!));
      response.on('error', () => finish(answered!));
      response.on('close', () => finish(answered!));
    });
    req.on('error', (error) => finish(answered ?? { delivered: false, status: null, error: describeError(error) }));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    req.end(request.body);
  });
}

/** A lookup that answers every host name with the one checked address (in both callback forms). */
function pinnedLookup(address: string, family: 4 | 6): LookupFunction {
  return (_hostname: string, options: LookupOptions, callback) => {
    if (options.all) callback(null, [{ address, family } satisfies LookupAddress]);
    else callback(null, address, family);
  };
}

function outcome(status: number, statusText: string | undefined, location: string | undefined): WebhookResponse {
  if (status >= 200 && status < 300) return { delivered: true, status };
  const line = `HTTP ${status}${statusText ? ` ${printable(statusText)}` : ''}`;
  if (status >= 300 && status < 400) {
    const to = location ? ` (Location: ${printable(location)})` : '';
    return { delivered: false, status, error: clip(`${line}: redirects are not followed${to}`) };
  }
  return { delivered: false, status, error: clip(line) };
}

function describeAbort(reason: unknown): string {
  return reason instanceof Error ? reason.message : 'the attempt was aborted';
}

/** An error's code and message, bounded, for `lastError`. */
export function describeError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error.message || 'request failed';
  return clip(code && !message.includes(code) ? `${code}: ${message}` : message);
}

/** Receiver-supplied text without control characters, so it cannot forge log lines. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

function clip(text: string): string {
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 1)}…` : text;
}
