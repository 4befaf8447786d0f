import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { RequestErrorCode } from '../core/errors.ts';

/**
 * A request without a document (`{}`, `{"variables":{}}`, a GET without `query`) is not a GraphQL
 * request at all: 400 BAD_REQUEST, as every other malformed request is. Yoga answers it with 200
 * under `application/json`. One that names a persisted query by hash only (automatic persisted
 * queries, which a trusted-documents server resolves before this) is answered
 * PERSISTED_QUERY_NOT_FOUND: this server keeps no queries, and Apollo's and urql's links then send
 * the text, so one client build works with and without trusted documents.
 */
export function useRequireQuery(): Plugin {
  return {
    onParams({ params }) {
      // An empty document is a parse error, with its own code.
      if (typeof params.query === 'string') return;
      const persisted = params.extensions?.['persistedQuery'];
      const [code, message] =
        typeof persisted === 'object' && persisted !== null
          ? [RequestErrorCode.PERSISTED_QUERY_NOT_FOUND, 'This server keeps no persisted queries: send the query text']
          : [RequestErrorCode.BAD_REQUEST, 'Must provide query string.'];
      throw createGraphQLError(message, { extensions: { code, http: { status: 400 } } });
    },
  };
}

/**
 * An answer no Accept of the request admits (a subscription asked for as plain JSON): 406 with a
 * JSON error saying what to accept, where yoga sends an empty body.
 */
export function useNotAcceptableBody(): Plugin {
  return {
    onResultProcess({ resultProcessor, acceptableMediaTypes, setResultProcessor }) {
      if (resultProcessor) return;
      const message = `This answer can be sent as ${acceptableMediaTypes.join(' or ') || 'a stream'} only; accept it (a subscription needs text/event-stream, or use graphql-ws)`;
      setResultProcessor(
        (_result, fetchAPI) =>
          new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code: RequestErrorCode.BAD_REQUEST } }] }), {
            status: 406,
            headers: { 'content-type': 'application/json; charset=utf-8' },
          }),
        'application/json',
      );
    },
  };
}
