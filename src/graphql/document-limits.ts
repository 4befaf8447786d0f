import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.ts';
import { RequestErrorCode } from '../core/errors.ts';
import { pagingCostWithVariables } from './paging-cost.ts';

/**
 * Limits on the GraphQL document itself (graphql-armor): depth, aliases, tokens, cost, directives,
 * no field suggestions, and introspection off unless configured. They hook parse and validate,
 * which the WebSocket path runs through the same envelop (app.ts), so they hold on both
 * transports. The limits' values stay out of the messages; the code says what happened.
 */
const MESSAGES = {
  depth: 'The query is nested too deeply.',
  aliases: 'The query uses too many aliases.',
  tokens: 'The query is too long (tokens).',
  cost: 'The query is too expensive.',
  directives: 'The query uses too many directives.',
} as const;
const LIMIT_MESSAGES = Object.values(MESSAGES);

export function documentLimits(transport: Config['transport'], introspection: boolean): Plugin[] {
  // Validation rules report a coded error instead of throwing (armor's default), so the error is
  // an ordinary validation error; the token limit acts in the parser and is coded in limitCodes.
  const report = { propagateOnRejection: false, onReject: [reportCoded] };
  const cost = { maxCost: transport.graphqlMaxCost, exposeLimits: false, errorMessage: MESSAGES.cost };
  const armor = new EnvelopArmor({
    maxDepth: { n: transport.graphqlMaxDepth, exposeLimits: false, errorMessage: MESSAGES.depth, flattenFragments: true, ...report },
    maxAliases: { n: transport.graphqlMaxAliases, exposeLimits: false, errorMessage: MESSAGES.aliases, ...report },
    maxTokens: { n: transport.graphqlMaxTokens, exposeLimits: false, errorMessage: MESSAGES.tokens },
    costLimit: { ...cost, ...report },
    maxDirectives: { n: transport.graphqlMaxDirectives, exposeLimits: false, errorMessage: MESSAGES.directives, ...report },
    blockFieldSuggestion: { enabled: !introspection },
  });
    // Armor's plugins are envelop plugins that read nothing from the context.
  const plugins: Plugin[] = [
    documentLength(transport.graphqlMaxDocumentChars),
    ...(armor.protect().plugins as unknown as Plugin[]),
    pagingCostWithVariables(cost, coded),
    limitCodes(),
  ];
  if (!introspection) {
    plugins.push({ onValidate: ({ addValidationRule }) => addValidationRule(NoSchemaIntrospectionCustomRule) });
  }
  return plugins;
}

/**
 * Refuses a long document before it is parsed. Yoga caches parsed documents and parse errors by
 * their text (1,024 of each, before authentication): without this, distinct documents near the
 * request size limit would pin gigabytes. Big values (SQL) belong in variables, which are not cached.
 */
function documentLength(maxChars: number): Plugin {
  return {
    onParse: ({ params }) => {
      const source: unknown = params.source;
      const length = typeof source === 'string' ? source.length : 0;
      if (length > maxChars) {
        throw new GraphQLError(`The document is longer than ${maxChars} characters; pass large values as variables`, {
          extensions: { code: RequestErrorCode.LIMIT_EXCEEDED, http: { status: 413 } },
        });
      }
    },
  };
}

function reportCoded(context: ValidationContext | null, error: GraphQLError): void {
  context?.reportError(coded(error));
}

/** The token limit's parse error as LIMIT_EXCEEDED. */
function limitCodes(): Plugin {
  return {
    onParse:
      () =>
      ({ result, replaceParseResult }) => {
        if (result instanceof Error && isLimitError(result)) replaceParseResult(coded(result));
      },
  };
}

function isLimitError(error: Error): boolean {
  return LIMIT_MESSAGES.some((m) => error.message.endsWith(m));
}

function coded(error: Error): GraphQLError {
  return new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
    ...(error instanceof GraphQLError && error.nodes ? { nodes: error.nodes } : {}),
    extensions: { code: RequestErrorCode.LIMIT_EXCEEDED },
  });
}
