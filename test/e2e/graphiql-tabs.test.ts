/** GraphiQL's opening tabs: each a valid operation of the schema, and every root field has one. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { buildSchema, type FieldNode, type OperationDefinitionNode, parse, validate } from 'graphql';
import { GRAPHIQL_TABS } from '../../src/graphql/graphiql-examples.ts';

const schema = buildSchema(fs.readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));

test('every tab validates against schema.graphql, with JSON variables', () => {
  for (const tab of GRAPHIQL_TABS) {
    const document = parse(tab.query);
    assert.deepEqual(validate(schema, document), [], tab.query);
    if (tab.variables) assert.doesNotThrow(() => JSON.parse(tab.variables!), tab.query);
  }
});

test('every root field of Query, Mutation and Subscription has a tab', () => {
  const used = new Set<string>();
  for (const tab of GRAPHIQL_TABS) {
    for (const definition of parse(tab.query).definitions as OperationDefinitionNode[]) {
      for (const selection of definition.selectionSet.selections as FieldNode[]) used.add(`${definition.operation}.${selection.name.value}`);
    }
  }
  const roots = [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
    ['subscription', schema.getSubscriptionType()],
  ] as const;
  const all = roots.flatMap(([operation, type]) => Object.keys(type?.getFields() ?? {}).map((field) => `${operation}.${field}`));
  assert.deepEqual(all.filter((field) => !used.has(field)), []);
});
