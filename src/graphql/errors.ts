import { GraphQLError } from 'graphql';
import { maskError as yogaMaskError, type YogaServerOptions } from 'graphql-yoga';
import { RequestError, type RequestErrorCode } from '../core/errors.ts';

type MaskError = NonNullable<Exclude<YogaServerOptions<object, object>['maskedErrors'], boolean | undefined>['maskError']>;

/** A GraphQL error with its code, for refusals made in this layer (WebSocket, document limits). */
export function graphQLError(code: RequestErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extensions, code } });
}

/** The GraphQL form of an application's request error, at the place in the document it was raised. */
export function toGraphQLError(error: RequestError, at?: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    ...(at?.nodes ? { nodes: at.nodes } : {}),
    ...(at?.path ? { path: at.path } : {}),
    extensions: { ...error.extensions, code: error.code },
  });
}

/**
 * Yoga's error masking, with one exception: a `RequestError` (deliberate, its message written for
 * the client) becomes the GraphQL error it stands for. This is the one place where application
 * errors turn into GraphQL errors; anything else is masked as INTERNAL_SERVER_ERROR.
 */
export const maskError: MaskError = (error, message, isDev) => {
  if (error instanceof RequestError) return toGraphQLError(error);
  if (error instanceof GraphQLError && error.originalError instanceof RequestError) {
    return toGraphQLError(error.originalError, error);
  }
  return yogaMaskError(error, message, isDev);
};
