import fc from 'fast-check';
import * as z from 'zod';
import { addAudienceUsers, removeAudienceUsers } from '../../functions/contract/audiences';
import { checkedFast, documentedBy } from '../../functions/contract/common';
import { MAX_ROWS, SCHEMA_KEYS } from '../../functions/core/audiences';

/** The rows schema of both upload routes: checked by one loop, documented and reported by the full zod schema. */
const rows = addAudienceUsers.body.shape.data;
const full = documentedBy.get(rows)!;
const issuesOf = (schema: z.ZodType, value: unknown) => schema.safeParse(value).error?.issues ?? [];

const cell = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 1020, maxLength: 1030 }) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.constant(null), fc.boolean(), fc.constant({})) },
);
const row = fc.oneof(
  { weight: 6, arbitrary: fc.array(cell, { maxLength: SCHEMA_KEYS.length + 1 }) },
  { weight: 1, arbitrary: fc.oneof(cell, fc.constant(undefined)) },
);
const data = fc.oneof({ weight: 8, arbitrary: fc.array(row, { maxLength: 6 }) }, { weight: 1, arbitrary: fc.oneof(cell, fc.constant(undefined)) });

describe('checkedFast: the upload rows schema', () => {
  it('is the one both upload routes use, and is documented by a full zod schema', () => {
    expect(removeAudienceUsers.body.shape.data).toBe(rows);
    expect(full).toBeInstanceOf(z.ZodArray);
  });

  it('reports exactly what the full schema reports, for any value', () => {
    fc.assert(
      fc.property(data, (value) => {
        expect(issuesOf(rows, value)).toEqual(issuesOf(full, value));
      }),
      { numRuns: 2000 },
    );
  });

  it('passes valid rows on as they came, without a copy', () => {
    const value = [['a'.repeat(64)], [''], ['b'.repeat(64), '']];
    expect(rows.parse(value)).toBe(value);
  });

  it('reports too many rows as the array limit at the field, which the route answers with 413', () => {
    const issues = issuesOf(z.object({ data: rows }), { data: Array.from({ length: MAX_ROWS + 1 }, () => [1]) });
    expect(issues).toEqual([expect.objectContaining({ code: 'too_big', origin: 'array', path: ['data'] })]);
  });

  it('runs the full schema only when the check refuses', () => {
    const fullSchema = z.array(z.string());
    const spy = jest.spyOn(fullSchema, 'safeParse');
    const schema = checkedFast(fullSchema, (value) => Array.isArray(value) && value.every((item) => typeof item === 'string'));
    expect(schema.parse(['x'])).toEqual(['x']);
    expect(spy).not.toHaveBeenCalled();
    expect(issuesOf(schema, [1])).toEqual([expect.objectContaining({ code: 'invalid_type', path: [0] })]);
    expect(spy).toHaveBeenCalledTimes(1);
  });
});
