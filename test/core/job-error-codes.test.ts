/** The schema's JobErrorCode enum and core's closed set are the same set, in both directions. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { buildSchema, GraphQLEnumType, GraphQLNonNull, GraphQLObjectType } from 'graphql';
import { JobErrorCode } from '../../src/core/errors.ts';

const schema = buildSchema(fs.readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));

test('schema.graphql enumerates exactly the job error codes of src/core/errors.ts', () => {
  const type = schema.getType('JobErrorCode');
  assert.ok(type instanceof GraphQLEnumType);
  assert.deepEqual(type.getValues().map((v) => v.name).sort(), Object.values(JobErrorCode).sort());
});

test('JobError.code is the enum, not a string', () => {
  const jobError = schema.getType('JobError');
  assert.ok(jobError instanceof GraphQLObjectType);
  const code = jobError.getFields()['code']?.type;
  assert.ok(code instanceof GraphQLNonNull && code.ofType === schema.getType('JobErrorCode'));
});
