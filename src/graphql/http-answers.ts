import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { RequestErrorCode } from '../core/errors.ts';

/**
 * A request without a document (`{}`, `{"variables":{}}`, a GET without `query`) is not a GraphQL
 * request at all: 400 BAD_REQUEST, as every other malformed request is. Yoga answers it with 200
 * under `application/json`.
 */
export function useRequireQuery(): Plugin {
  return {
    onParams({ params }) {
      // An empty document is a parse error, with its own code.
      if (typeof params.query === 'string') return;
      throw createGraphQLError('Must provide query string.', {
        extensions: { code: RequestErrorCode.BAD_REQUEST, http: { status: 400 } },
      });
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
