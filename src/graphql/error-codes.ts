import { GraphQLError } from 'graphql';
import { handleStreamOrSingleExecutionResult, type Plugin } from 'graphql-yoga';
import { RequestErrorCode } from '../core/errors.ts';

type ResultHook = Parameters<typeof handleStreamOrSingleExecutionResult>[1];

/**
 * Every error a client sees carries an `extensions.code` from the closed set in errors.ts. Yoga
 * codes parse, validation and HTTP errors, and masks unexpected ones as INTERNAL_SERVER_ERROR;
 * graphql-js leaves variable coercion errors ("Variable $x got invalid value") without a code.
 * An error without a path never reached a resolver, so it is about the request's input; one with
 * a path is masked by yoga as INTERNAL_SERVER_ERROR.
 */
export function useErrorCodes(): Plugin {
  const addCodes: ResultHook = ({ result, setResult }) => {
    if (!result.errors?.some((e) => e.extensions?.['code'] === undefined)) return;
    setResult({ ...result, errors: result.errors.map(withCode) });
  };
  return {
    onExecute: () => ({ onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, addCodes) }),
    onSubscribe: () => ({
      onSubscribeResult: (payload) => handleStreamOrSingleExecutionResult(payload, addCodes),
    }),
  };
}

function withCode(error: GraphQLError): GraphQLError {
  // A resolver's unexpected error is left as it is: yoga's masking (which runs after this) turns
  // it into "Unexpected error." with INTERNAL_SERVER_ERROR. Re-creating it here would make it
  // look deliberate and let its message, paths included, through.
  if (error.extensions?.['code'] !== undefined || error.path) return error;
  return new GraphQLError(error.message, {
    ...(error.nodes ? { nodes: error.nodes } : {}),
    extensions: { ...error.extensions, code: RequestErrorCode.BAD_USER_INPUT },
  });
}
