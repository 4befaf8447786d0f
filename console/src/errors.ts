import type { CombinedError } from 'urql';
import { SOCKET_REFUSED } from './client';

/** A failed request, as the console shows it: the server's `extensions.code` and its message. */
export interface Problem {
  code: string | null;
  message: string;
}

/** The first error of a failed operation (request errors carry one; the rest say the same). */
export function describeError(error: CombinedError): Problem {
  const first = error.graphQLErrors[0];
  if (first) {
    const code = first.extensions['code'];
    return { code: typeof code === 'string' ? code : null, message: first.message };
  }
  const network: unknown = error.networkError;
  if (typeof network === 'object' && network !== null && 'code' in network && 'reason' in network) {
    const { code, reason } = network as { code: number; reason: string };
    if (code === SOCKET_REFUSED) return { code: 'UNAUTHENTICATED', message: reason || 'the WebSocket was refused (4403 Forbidden)' };
    return { code: null, message: `The WebSocket closed (${code}${reason ? `: ${reason}` : ''})` };
  }
  return { code: null, message: error.networkError ? `The server could not be reached: ${error.networkError.message}` : error.message };
}

export function isUnauthenticated(error: CombinedError | undefined): boolean {
  return !!error && describeError(error).code === 'UNAUTHENTICATED';
}

/** What an UNAUTHENTICATED answer means to the person at the keyboard. */
export function authMessage(problem: Problem, hasToken: boolean): string {
  return hasToken ? `The token was refused: ${problem.message}` : `This server needs a token: ${problem.message}`;
}
