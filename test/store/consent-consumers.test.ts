import { BatchGetCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { handler as applyMatchIndex } from '../../functions/apply-match-index/handler';
import { handler as applySuggestions } from '../../functions/apply-suggestions/handler';
import { accountMatchKeys } from '../../functions/core/identifiers';
import { accountStates, stateKey } from '../../functions/tables/consent-states';
import { identitiesOf, identityKey } from '../../functions/tables/identities';
import { appliedKey, appliedStates, indexKey } from '../../functions/tables/match-index';
import { suggestionKey, suggestionsOf } from '../../functions/tables/suggestions';
import { lambdaContext, sqsEvent, sqsRecord } from '../support/events';
import { givenConsent, givenFirstConsents } from './support/audiences';
import { functionCalls, passThrough, store, uniqueId } from './support/db';

beforeEach(() => passThrough());
afterAll(() => functionCalls.restore());

const pepper = Buffer.from(process.env.LOCAL_PEPPER!, 'utf8');
const consentChanged = (userId: string, version: number, ads: 'granted' | 'denied', suggestions: 'granted' | 'denied' = ads) => ({
  type: 'ConsentChanged' as const,
  eventId: `r-${version}`,
  userId,
  version,
  policyVersion: 'p1',
  purposes: { ads_targeting: ads, friend_suggestions: suggestions },
  occurredAt: 't',
});

describe('batched reads of the consumers (table modules)', () => {
  it('read 250 users in BatchGetItems of at most 100 keys, consistently, missing users as absent or default', async () => {
    // Prepare: 250 users, every other one with a consent state, identity, applied state and suggestion item
    const users = Array.from({ length: 250 }, () => uniqueId('batch'));
    const present = users.filter((_, i) => i % 2 === 0);
    await givenFirstConsents(present, { granted: true, version: 7 });
    await store.putAll(
      'identities',
      present.map((u) => ({ ...identityKey(u), phoneNumber: '+14155550123' })),
    );
    await store.putAll(
      'matchIndex',
      present.map((u) => ({ ...appliedKey(u), appliedVersion: 7, keys: ['k'], rev: 3 })),
    );
    await store.putAll(
      'suggestions',
      present.map((u) => ({ ...suggestionKey(u), allowed: true, appliedVersion: 7, updatedAt: 't' })),
    );
    // Act
    const [states, identities, applied, suggestions] = await Promise.all([
      accountStates(users),
      identitiesOf(users),
      appliedStates(users),
      suggestionsOf(users),
    ]);
    // Assess
    expect(states.size).toBe(250);
    expect(states.get(present[0]!)!.consent).toEqual(expect.objectContaining({ version: 7, purposes: expect.objectContaining({ ads_targeting: 'granted' }) }));
    expect(states.get(users[1]!)!.consent.version).toBe(0);
    expect(identities.get(present[0]!)).toEqual({ userId: present[0], phoneNumber: '+14155550123' });
    expect(identities.get(users[1]!)).toEqual({ userId: users[1] });
    expect([...applied.keys()].sort()).toEqual([...present].sort());
    expect(applied.get(present[0]!)).toEqual({ appliedVersion: 7, keys: ['k'], rev: 3 });
    expect([...suggestions.keys()].sort()).toEqual([...present].sort());
    const calls = functionCalls.commandCalls(BatchGetCommand).map((c) => Object.values(c.args[0].input.RequestItems!)[0]!);
    expect(calls).toHaveLength(12); // 3 calls (100 + 100 + 50) for each of 4 tables
    expect(calls.every((c) => c.ConsistentRead === true && c.Keys!.length <= 100)).toBe(true);
  });
});

describe('apply-match-index and apply-suggestions on a batch', () => {
  it("reconcile each user once from the state now, whatever the order of the user's events in the batch", async () => {
    // Prepare: U1 granted (2), then denied (3): the state holds the denial; the batch holds them newest first.
    const [u1, u2] = [uniqueId('u1'), uniqueId('u2')];
    await givenConsent(u1, { granted: false, version: 3 });
    // U2 grants both purposes at version 1 (as the consent route stores a first decision).
    await store.put('consentStates', {
      ...stateKey(u2),
      consentVersion: 1,
      consentPolicyVersion: 'p1',
      purposes: { ads_targeting: 'granted', friend_suggestions: 'granted' },
      consentUpdatedAt: new Date().toISOString(),
    });
    await store.putAll('identities', [
      { ...identityKey(u1), phoneNumber: '+14155550101' },
      { ...identityKey(u2), phoneNumber: '+14155550102' },
    ]);
    const events = [consentChanged(u1, 3, 'denied'), consentChanged(u2, 1, 'granted'), consentChanged(u1, 2, 'granted')].map((e) => sqsRecord(e));
    // Act
    const indexed = await applyMatchIndex(sqsEvent(events), lambdaContext());
    const suggested = await applySuggestions(sqsEvent(events), lambdaContext());
    // Assess
    expect(indexed).toEqual({ batchItemFailures: [] });
    expect(suggested).toEqual({ batchItemFailures: [] });
    const [k1] = accountMatchKeys(pepper, { phoneNumber: '+14155550101' });
    const [k2] = accountMatchKeys(pepper, { phoneNumber: '+14155550102' });
    expect(await store.get('matchIndex', indexKey(k1!))).toBeUndefined();
    expect(await store.get('matchIndex', indexKey(k2!))).toEqual(expect.objectContaining({ userId: u2, consentVersion: 1 }));
    expect(await store.get('matchIndex', appliedKey(u1))).toEqual(expect.objectContaining({ appliedVersion: 3, keys: [], rev: 1 }));
    expect(await store.get('suggestions', suggestionKey(u1))).toEqual(expect.objectContaining({ allowed: false, appliedVersion: 3 }));
    expect(await store.get('suggestions', suggestionKey(u2))).toEqual(expect.objectContaining({ allowed: true, appliedVersion: 1 }));
    // Reads: BatchGetItem only, no item read on its own.
    expect(functionCalls.commandCalls(GetCommand)).toHaveLength(0);
  });

  it('an older event arriving after a newer one was applied changes nothing', async () => {
    const u1 = uniqueId('u1');
    await givenConsent(u1, { granted: true, version: 1 });
    await store.put('identities', { ...identityKey(u1), phoneNumber: '+14155550103' });
    await applyMatchIndex(sqsEvent([sqsRecord(consentChanged(u1, 1, 'granted'))]), lambdaContext());
    await applySuggestions(sqsEvent([sqsRecord(consentChanged(u1, 1, 'granted'))]), lambdaContext());
    await givenConsent(u1, { granted: false, version: 2 });
    await applyMatchIndex(sqsEvent([sqsRecord(consentChanged(u1, 2, 'denied'))]), lambdaContext());
    await applySuggestions(sqsEvent([sqsRecord(consentChanged(u1, 2, 'denied'))]), lambdaContext());
    const index = await store.get('matchIndex', appliedKey(u1));
    const suggestion = await store.get('suggestions', suggestionKey(u1));
    passThrough();
    // Act: the grant (version 1) again, late
    await applyMatchIndex(sqsEvent([sqsRecord(consentChanged(u1, 1, 'granted'))]), lambdaContext());
    await applySuggestions(sqsEvent([sqsRecord(consentChanged(u1, 1, 'granted'))]), lambdaContext());
    // Assess: nothing written, nothing read beyond the applied versions
    expect(await store.get('matchIndex', appliedKey(u1))).toEqual(index);
    expect(await store.get('suggestions', suggestionKey(u1))).toEqual(suggestion);
    expect(suggestion).toEqual(expect.objectContaining({ allowed: false, appliedVersion: 2 }));
    const [key] = accountMatchKeys(pepper, { phoneNumber: '+14155550103' });
    expect(await store.get('matchIndex', indexKey(key!))).toBeUndefined();
    expect(functionCalls.calls().map((c) => (c.args[0] as object).constructor.name)).toEqual(['BatchGetCommand', 'BatchGetCommand']);
  });
});
