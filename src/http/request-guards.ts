import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestErrorCode } from '../core/errors.ts';
import { sendRequestError } from './json-error.ts';

/** Media types of a GraphQL POST body (GraphQL over HTTP); form bodies and uploads are not served. */
const POST_TYPES = /^(application\/json|application\/graphql-response\+json)\s*(;|$)/i;

/**
 * Refuses, with a JSON error, what yoga would answer with an empty body or a 500: a POST whose
 * content type is not JSON, and a GET whose `variables` or `extensions` are not JSON.
 */
export function wellFormed(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'POST' && !POST_TYPES.test(req.headers['content-type'] ?? '')) {
    sendRequestError(res, 415, RequestErrorCode.BAD_REQUEST, 'Send the request as application/json');
    req.resume();
    return false;
  }
  if (req.method === 'GET') {
    const params = new URL(req.url ?? '/', 'http://x').searchParams;
    for (const name of ['variables', 'extensions']) {
      const value = params.get(name);
      if (value === null) continue;
      try {
        JSON.parse(value);
      } catch {
        sendRequestError(res, 400, RequestErrorCode.BAD_REQUEST, `The ${name} parameter is not JSON`);
        return false;
      }
    }
  }
  return true;
}

/**
 * Refuses a request body larger than the limit before anyone reads it: by its Content-Length
 * (413), and a body without one (chunked) is refused (411) because its size is unknown up front.
 */
export function bodyWithinLimit(req: IncomingMessage, res: ServerResponse, maxBytes: number): boolean {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return true;
  const length = req.headers['content-length'];
  if (length === undefined) {
    if (req.headers['transfer-encoding'] === undefined) return true; // no body at all
    sendRequestError(res, 411, RequestErrorCode.BAD_REQUEST, 'Send the request body with a Content-Length');
    return false;
  }
  if (Number(length) > maxBytes) {
    sendRequestError(res, 413, RequestErrorCode.LIMIT_EXCEEDED, `The request body is larger than ${maxBytes} bytes`);
    req.resume();
    res.once('finish', () => req.socket.destroy());
    return false;
  }
  return true;
}
