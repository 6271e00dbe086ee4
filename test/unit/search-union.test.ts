/**
 * The FHIR gateway's fast paths hold to the plain rules they stand in for: the union of several
 * searches (each resource once across searches, every entry of one search kept) and the search
 * Bundle's shape (searchBundleSchema, still the one that words a broken Bundle).
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { unionOfSearches } from '../../src/fhir/gateway.js';
import { keepsToSearchBundle, searchBundleProblem, searchBundleSchema } from '../../src/fhir/search-bundle.js';

/** The rule as the gateway states it, with a key built for every resource. */
function plainUnion(results: unknown[][]): unknown[] {
  const seen = new Map<string, number>();
  const union: unknown[] = [];
  results.forEach((list, search) => {
    for (const r of list) {
      const { resourceType, id, meta } = r as { resourceType?: unknown; id?: unknown; meta?: { versionId?: unknown } };
      if (typeof id === 'string') {
        const key = JSON.stringify([resourceType, id, typeof meta?.versionId === 'string' ? meta.versionId : '']);
        const first = seen.get(key);
        if (first !== undefined && first !== search) continue;
        seen.set(key, search);
      }
      union.push(r);
    }
  });
  return union;
}

describe('unionOfSearches', () => {
  test.each([
    [
      'an Observation found by two searches is kept once, from the first',
      [[{ resourceType: 'Observation', id: 'a' }], [{ resourceType: 'Observation', id: 'a' }]],
      [0],
    ],
    [
      'twice within one search: both kept',
      [
        [
          { resourceType: 'Observation', id: 'a' },
          { resourceType: 'Observation', id: 'a' },
        ],
        [],
      ],
      [0, 1],
    ],
    [
      'the same id, another versionId: two versions, both kept',
      [
        [{ resourceType: 'Observation', id: 'a', meta: { versionId: '1' } }],
        [{ resourceType: 'Observation', id: 'a', meta: { versionId: '2' } }],
      ],
      [0, 1],
    ],
    [
      'the same id, another type: two resources',
      [[{ resourceType: 'Observation', id: 'a' }], [{ resourceType: 'Procedure', id: 'a' }]],
      [0, 1],
    ],
    ['no id: always kept', [[{ resourceType: 'Observation' }], [{ resourceType: 'Observation' }]], [0, 1]],
    [
      'an empty id is an id: found by two searches, kept once',
      [[{ resourceType: 'Observation', id: '' }], [{ resourceType: 'Observation', id: '' }]],
      [0],
    ],
    [
      'ids and versions holding "/" do not run together',
      [
        [{ resourceType: 'Observation', id: 'a', meta: { versionId: '1/' } }],
        [
          { resourceType: 'Observation', id: 'a/1' },
          { resourceType: 'Observation', id: 'a/1' },
        ],
      ],
      [0, 1, 2],
    ],
  ])('%s', (_name, results, kept) => {
    const flat = results.flat();
    expect(unionOfSearches(results)).toEqual(kept.map((i) => flat[i]));
  });

  const resource = (ids: fc.Arbitrary<unknown>) =>
    fc.record(
      {
        resourceType: fc.constantFrom('Observation', 'Procedure'),
        id: ids,
        meta: fc.record({ versionId: fc.constantFrom('1', '2', 3, '1/') }, { requiredKeys: [] }),
      },
      { requiredKeys: ['resourceType'] },
    );
  test.each([
    ['few ids (many repeats)', fc.constantFrom('a', 'b', 'c', 7, '', 'a/1')],
    ['many ids (rare repeats)', fc.integer({ min: 0, max: 20_000 }).map((n) => `obs-${n}`)],
  ])('%s: the same resources, the same objects, in the same order as the plain rule', (_name, ids) => {
    fc.assert(
      fc.property(fc.array(fc.array(resource(ids), { maxLength: 300 }), { maxLength: 6 }), (results) => {
        const got = unionOfSearches(results);
        const expected = plainUnion(results);
        expect(got).toHaveLength(expected.length);
        got.forEach((r, i) => expect(r).toBe(expected[i]));
      }),
      { numRuns: 300 },
    );
  });
});

describe('keepsToSearchBundle', () => {
  const anyEntry = fc.oneof(fc.object(), fc.constant(null), fc.array(fc.integer()), fc.string(), fc.integer());
  const bundleLike = fc.record(
    {
      resourceType: fc.constantFrom('Bundle', 'Patient', 5, null),
      type: fc.oneof(fc.string(), fc.constant(null), fc.integer()),
      entry: fc.oneof(
        fc.array(fc.object(), { maxLength: 5 }),
        fc.array(anyEntry, { maxLength: 5 }),
        fc.constant(null),
        fc.object(),
      ),
    },
    { requiredKeys: [] },
  );
  test('the same answer as searchBundleSchema for any JSON value and any Bundle-like object', () => {
    fc.assert(
      fc.property(fc.oneof(bundleLike, fc.jsonValue()), (value) => {
        expect(keepsToSearchBundle(value)).toBe(searchBundleSchema.safeParse(value).success);
      }),
      { numRuns: 3000 },
    );
  });

  test.each([
    [{ resourceType: 'Bundle', type: 'searchset', entry: [{ resource: {} }, {}] }, undefined],
    [{ resourceType: 'Bundle' }, undefined],
    [{ resourceType: 'Bundle', entry: {} }, 'entry is not a list'],
    [{ resourceType: 'Bundle', entry: [{}, null] }, 'entry[1] is not an object'],
    [{ resourceType: 'Bundle', entry: [[]] }, 'entry[0] is not an object'],
    [{ resourceType: 'Bundle', type: 3 }, 'is not a Bundle'],
    [[], 'is not a Bundle'],
  ])('%j: %s', (bundle, problem) => {
    expect(searchBundleProblem(bundle)).toBe(problem);
  });
});
