import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { ConsentState, Purposes } from '../../functions/core/consent';
import { adsGranted, consentOf, purposeGranted, stateKey } from '../../functions/tables/consent-states';

const DECIDED = '2026-11-20T10:00:00.000Z';
const BEFORE = '2026-11-19T10:00:00.000Z';
const AFTER = '2026-11-21T10:00:00.000Z';

const consent = (purposes: Purposes, updatedAt: string | null = DECIDED): ConsentState => ({ version: 3, policyVersion: 'p1', purposes, updatedAt });
const bothGranted = consent({ ads_targeting: 'granted', friend_suggestions: 'granted' });

describe('purposeGranted', () => {
  it('is granted for a purpose granted by an account that was never erased', () => {
    expect(purposeGranted(bothGranted, undefined, 'ads_targeting')).toBe(true);
    expect(purposeGranted(bothGranted, undefined, 'friend_suggestions')).toBe(true);
  });

  it('reads each purpose on its own', () => {
    const mixed = consent({ ads_targeting: 'denied', friend_suggestions: 'granted' });
    expect(purposeGranted(mixed, undefined, 'ads_targeting')).toBe(false);
    expect(purposeGranted(mixed, undefined, 'friend_suggestions')).toBe(true);
  });

  it('is never granted for a denied purpose, erased or not', () => {
    const denied = consent({ ads_targeting: 'denied', friend_suggestions: 'denied' }, AFTER);
    expect(purposeGranted(denied, undefined, 'ads_targeting')).toBe(false);
    expect(purposeGranted(denied, DECIDED, 'ads_targeting')).toBe(false);
  });

  it('is not granted when the account was erased after the decision', () => {
    expect(purposeGranted(bothGranted, AFTER, 'ads_targeting')).toBe(false);
    expect(purposeGranted(bothGranted, AFTER, 'friend_suggestions')).toBe(false);
  });

  it('is not granted when the account was erased at the very moment of the decision', () => {
    expect(purposeGranted(bothGranted, DECIDED, 'ads_targeting')).toBe(false);
  });

  it('is granted again for a decision made after the last erasure', () => {
    expect(purposeGranted(bothGranted, BEFORE, 'ads_targeting')).toBe(true);
  });

  it('is not granted after an erasure when the decision has no time', () => {
    const undated = consent({ ads_targeting: 'granted', friend_suggestions: 'granted' }, null);
    expect(purposeGranted(undated, BEFORE, 'ads_targeting')).toBe(false);
    expect(purposeGranted(undated, undefined, 'ads_targeting')).toBe(true);
  });
});

describe('adsGranted', () => {
  it('is purposeGranted for ads targeting', () => {
    const adsOnly = consent({ ads_targeting: 'granted', friend_suggestions: 'denied' });
    const suggestionsOnly = consent({ ads_targeting: 'denied', friend_suggestions: 'granted' });
    expect(adsGranted(adsOnly, undefined)).toBe(true);
    expect(adsGranted(adsOnly, BEFORE)).toBe(true);
    expect(adsGranted(adsOnly, AFTER)).toBe(false);
    expect(adsGranted(suggestionsOnly, undefined)).toBe(false);
  });
});

describe('consentOf', () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  afterEach(() => ddb.reset());

  it("reads each user's ads consent once, strongly consistent, applying erasures", async () => {
    // Prepare
    const item = (userId: string, erasedAt?: string) => ({
      ...stateKey(userId),
      consentVersion: 3,
      consentPolicyVersion: 'p1',
      purposes: { ads_targeting: 'granted', friend_suggestions: 'denied' },
      consentUpdatedAt: DECIDED,
      ...(erasedAt ? { erasedAt } : {}),
    });
    ddb.on(BatchGetCommand).resolves({ Responses: { 'test-consentStates': [item('granting'), item('erased', AFTER), item('back', BEFORE)] } });
    // Act
    const states = await consentOf(['granting', 'erased', 'back', 'unknown']);
    // Assess
    expect(Object.fromEntries(states)).toEqual({
      granting: { granted: true, version: 3 },
      erased: { granted: false, version: 3 },
      back: { granted: true, version: 3 },
      unknown: { granted: false, version: 0 },
    });
    const request = ddb.commandCalls(BatchGetCommand)[0]!.args[0].input.RequestItems!['test-consentStates']!;
    expect(request.ConsistentRead).toBe(true);
    expect(request.Keys).toEqual(['granting', 'erased', 'back', 'unknown'].map((u) => stateKey(u)));
  });
});
