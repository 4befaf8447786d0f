import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestErrorCode } from '../core/errors.ts';
import { sendRequestError } from './json-error.ts';

/**
 * The media type of a GraphQL POST body (GraphQL over HTTP: application/json; the
 * application/graphql-response+json type is for answers); form bodies and uploads are not served.
 */
const POST_TYPES = /^application\/json\s*(;|$)/i;

/** What /graphql can answer with: GraphQL over HTTP's JSON forms, SSE, and GraphiQL's page. */
const ANSWER_TYPES = ['application/graphql-response+json', 'application/json', 'text/event-stream', 'multipart/mixed', 'text/html'];

/** Whether an Accept header admits one of ANSWER_TYPES (no header, or a wildcard, admits all). */
function acceptable(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.trim().toLowerCase().split(';');
    if (params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(p))) return false;
    if (type === '*/*') return true;
    if (type.endsWith('/*')) return ANSWER_TYPES.some((t) => t.startsWith(type.slice(0, -1)));
    return ANSWER_TYPES.includes(type);
  });
}

/**
 * Refuses, with a JSON error, what yoga would answer with an empty body or a 500: a POST whose
 * content type is not JSON, an Accept nothing here can satisfy, and a GET whose `variables` or
 * `extensions` are not JSON.
 */
export function wellFormed(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'POST') {
    const type = req.headers['content-type'] ?? '';
    if (!POST_TYPES.test(type)) {
      sendRequestError(res, 415, RequestErrorCode.BAD_REQUEST, 'Send the request as application/json');
      req.resume();
      return false;
    }
    // Media types are case-insensitive; yoga compares them as written (and answers an empty 415).
    req.headers['content-type'] = type.toLowerCase();
  }
  if (!acceptable(req.headers.accept)) {
    sendRequestError(
      res,
      406,
      RequestErrorCode.BAD_REQUEST,
      'Accept none of application/graphql-response+json, application/json, text/event-stream or text/html; send one of them (or */*)',
    );
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
