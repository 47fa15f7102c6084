import { NEVER_DECIDED, consentView, decide } from '../../functions/core/consent';
import type { Policy } from '../../functions/core/consent';
import { Problem } from '../../functions/shared/problems';

const policy: Policy = {
  version: '2016-08-25',
  purposes: ['ads_targeting', 'friend_suggestions'],
  summary: 'Share the phone number with the parent company',
  publishedAt: '2016-08-25T00:00:00.000Z',
};

describe('consentView', () => {
  it('shows a user who never decided as denied everywhere, version 0, decision required', () => {
    expect(consentView(NEVER_DECIDED, policy)).toEqual({
      policyVersion: null,
      currentPolicyVersion: '2016-08-25',
      decisionRequired: true,
      purposes: { ads_targeting: 'denied', friend_suggestions: 'denied' },
      version: 0,
      updatedAt: null,
    });
  });

  it('keeps earlier choices but requires a decision under a newer policy', () => {
    const state = { version: 3, policyVersion: '2015-01-01', purposes: { ads_targeting: 'granted', friend_suggestions: 'denied' }, updatedAt: 't' } as const;
    const view = consentView(state, policy);
    expect(view.decisionRequired).toBe(true);
    expect(view.purposes.ads_targeting).toBe('granted');
    expect(consentView({ ...state, policyVersion: policy.version }, policy).decisionRequired).toBe(false);
  });
});

describe('decide', () => {
  it('merges the purposes sent into the current ones and bumps the version by one', () => {
    // Prepare
    const state = { version: 4, policyVersion: policy.version, purposes: { ads_targeting: 'granted', friend_suggestions: 'granted' }, updatedAt: 't' } as const;
    // Act
    const { state: next, receipt } = decide(
      state,
      policy,
      { policyVersion: policy.version, purposes: { ads_targeting: 'denied' }, source: 'settings' },
      'r-1',
      '2026-11-25T00:00:00.000Z',
    );
    // Assess
    expect(next).toEqual({
      version: 5,
      policyVersion: policy.version,
      purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' },
      updatedAt: '2026-11-25T00:00:00.000Z',
    });
    expect(receipt).toEqual({
      receiptId: 'r-1',
      version: 5,
      policyVersion: policy.version,
      purposes: next.purposes,
      source: 'settings',
      recordedAt: '2026-11-25T00:00:00.000Z',
    });
  });

  it('refuses a policy version that is not the current one with 409', () => {
    const act = () => decide(NEVER_DECIDED, policy, { policyVersion: '2015-01-01', purposes: {}, source: 'notification' }, 'r', 't');
    expect(act).toThrow(Problem);
    try {
      act();
    } catch (e) {
      expect((e as Problem).status).toBe(409);
    }
  });

  it('refuses any decision when no policy is published', () => {
    expect(() => decide(NEVER_DECIDED, null, { policyVersion: 'x', purposes: {}, source: 'notification' }, 'r', 't')).toThrow(
      expect.objectContaining({ status: 409 }),
    );
  });

  it('refuses a purpose the current policy does not cover with 400', () => {
    const narrow = { ...policy, purposes: ['ads_targeting' as const] };
    expect(() =>
      decide(NEVER_DECIDED, narrow, { policyVersion: policy.version, purposes: { friend_suggestions: 'granted' }, source: 'settings' }, 'r', 't'),
    ).toThrow(expect.objectContaining({ status: 400 }));
  });
});
