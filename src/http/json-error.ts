import type { ServerResponse } from 'node:http';
import type { RequestErrorCode } from '../core/errors.ts';

/** A request error answered outside GraphQL (downloads, refusals before yoga), in the GraphQL error shape. */
export function sendRequestError(res: ServerResponse, status: number, code: RequestErrorCode, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}
