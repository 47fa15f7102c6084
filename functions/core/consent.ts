/**
 * Consent: pure rules, no I/O. Two purposes, each granted or denied; every
 * recorded decision is a receipt with the next version number.
 */
import { conflict, Problem } from '../shared/problems';

export const PURPOSES = ['ads_targeting', 'friend_suggestions'] as const;
export const DECISIONS = ['granted', 'denied'] as const;
export type Purpose = (typeof PURPOSES)[number];
export type Decision = (typeof DECISIONS)[number];
export type Purposes = Record<Purpose, Decision>;
export type ConsentSource = 'notification' | 'settings';

export interface Policy {
  version: string;
  purposes: Purpose[];
  summary: string;
  publishedAt: string;
}

/** A user's current consent as stored; version 0 means never decided. */
export interface ConsentState {
  version: number;
  policyVersion: string | null;
  purposes: Purposes;
  updatedAt: string | null;
}

export interface Receipt {
  receiptId: string;
  version: number;
  policyVersion: string;
  purposes: Purposes;
  source: ConsentSource;
  recordedAt: string;
}

export interface DecisionInput {
  policyVersion: string;
  purposes: Partial<Purposes>;
  source: ConsentSource;
}

export const NEVER_DECIDED: ConsentState = {
  version: 0,
  policyVersion: null,
  purposes: { ads_targeting: 'denied', friend_suggestions: 'denied' },
  updatedAt: null,
};

export function consentView(state: ConsentState, current: Policy | null) {
  return {
    policyVersion: state.policyVersion,
    currentPolicyVersion: current?.version ?? null,
    decisionRequired: state.version === 0 || current === null || state.policyVersion !== current.version,
    purposes: { ...state.purposes },
    version: state.version,
    updatedAt: state.updatedAt,
  };
}

/**
 * Applies a decision to the current state. Only the current policy can be
 * decided on, and only for purposes it covers; purposes left out keep their value.
 */
export function decide(
  state: ConsentState,
  current: Policy | null,
  input: DecisionInput,
  receiptId: string,
  now: string,
): { state: ConsentState; receipt: Receipt } {
  if (!current || input.policyVersion !== current.version) {
    throw conflict('stale-policy', 'policyVersion is not the current policy; read GET /v1/policies/current and decide again.');
  }
  const outside = Object.keys(input.purposes).filter((p) => !current.purposes.includes(p as Purpose));
  if (outside.length > 0) {
    throw new Problem(400, 'validation-error', 'Your request is not valid', 'The current policy does not cover every purpose sent.', {
      errors: outside.map((p) => ({ path: `purposes.${p}`, message: 'Not a purpose of the current policy' })),
    });
  }
  const purposes: Purposes = { ...state.purposes };
  for (const p of PURPOSES) {
    const value = input.purposes[p];
    if (value) purposes[p] = value;
  }
  const version = state.version + 1;
  const receipt: Receipt = { receiptId, version, policyVersion: current.version, purposes, source: input.source, recordedAt: now };
  return { state: { version, policyVersion: current.version, purposes, updatedAt: now }, receipt };
}
