import { type CostLimitOptions, costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { type DocumentNode, type ExecutionArgs, type GraphQLError, Kind, type ValueNode, validate, visit } from 'graphql';
import type { Plugin } from 'graphql-yoga';

const PAGING = new Set(['first', 'last']);

/**
 * graphql-armor's cost limit multiplies a list's cost by its `first`/`last` only when the argument
 * is a literal: `jobs(first: $n)` passes validation whatever `$n` is (and validation is cached per
 * document, so it could not know). This runs the same rule again at execution, with the request's
 * values written into those arguments, for documents that page by a variable (found once per
 * document), so `first: $n` costs what `first: 100` costs.
 */
export function pagingCostWithVariables(options: CostLimitOptions, coded: (error: GraphQLError) => GraphQLError): Plugin {
  // Reported to the validation context, not thrown: validate() then returns it.
  const rule = costLimitRule({ ...options, propagateOnRejection: false, onReject: [(context, error) => context?.reportError(error)] });
  const pagesByVariable = new WeakMap<DocumentNode, boolean>();
  const check = (args: ExecutionArgs): readonly GraphQLError[] => {
    let paged = pagesByVariable.get(args.document);
    if (paged === undefined) {
      paged = hasPagingVariable(args.document);
      pagesByVariable.set(args.document, paged);
    }
    if (!paged) return [];
    return validate(args.schema, withPagingValues(args.document, args.variableValues ?? {}), [rule]).map(coded);
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const errors = check(args);
      if (errors.length) setResultAndStopExecution({ errors });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const errors = check(args);
      if (errors.length) setResultAndStopExecution({ errors });
    },
  };
}

function hasPagingVariable(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Argument(node) {
      if (PAGING.has(node.name.value) && node.value.kind === Kind.VARIABLE) found = true;
    },
  });
  return found;
}

/** The document with each paging variable replaced by its value (or its default) as a literal. */
function withPagingValues(document: DocumentNode, values: Readonly<Record<string, unknown>>): DocumentNode {
  const defaults = new Map<string, ValueNode>();
  visit(document, {
    VariableDefinition(node) {
      if (node.defaultValue) defaults.set(node.variable.name.value, node.defaultValue);
    },
  });
  return visit(document, {
    Argument(node) {
      if (!PAGING.has(node.name.value) || node.value.kind !== Kind.VARIABLE) return undefined;
      const name = node.value.name.value;
      const value = values[name];
      if (typeof value === 'number' && Number.isInteger(value)) return { ...node, value: { kind: Kind.INT, value: String(value) } };
      const fallback = value === undefined ? defaults.get(name) : undefined;
      return fallback ? { ...node, value: fallback } : undefined;
    },
  });
}
