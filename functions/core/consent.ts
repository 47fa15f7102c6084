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
/** Where a decision came from: the user (`notification`, `settings`) or a Global Privacy Control signal of their browser (`gpc`). */
export type ConsentSource = 'notification' | 'settings' | 'gpc';
/** The sources a user may name in a decision. */
export type DecisionSource = Exclude<ConsentSource, 'gpc'>;

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

/** What a decision records, before it is chained and signed. */
export interface RecordedDecision {
  receiptId: string;
  version: number;
  policyVersion: string;
  purposes: Purposes;
  source: ConsentSource;
  recordedAt: string;
}

/**
 * A receipt as stored and shown: the decision, whose it is, and its place in
 * the user's chain (core/receipts.ts). `signature` is null only on receipts
 * recorded before receipts were signed.
 */
export interface Receipt extends RecordedDecision {
  userId: string;
  prevHash: string | null;
  hash: string;
  signature: string | null;
}

export interface DecisionInput {
  policyVersion: string;
  purposes: Partial<Purposes>;
  source: DecisionSource;
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
): { state: ConsentState; receipt: RecordedDecision } {
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
  const receipt: RecordedDecision = { receiptId, version, policyVersion: current.version, purposes, source: input.source, recordedAt: now };
  return { state: { version, policyVersion: current.version, purposes, updatedAt: now }, receipt };
}

/**
 * The denial of `ads_targeting` that a Global Privacy Control signal
 * records, or undefined when there is nothing to deny (never decided, or not
 * granted). It keeps the policy version the state was decided under, so it
 * neither needs the current policy nor counts as a decision on it: a user
 * asked to decide on a new policy still is.
 */
export function gpcDenial(state: ConsentState, receiptId: string, now: string): { state: ConsentState; receipt: RecordedDecision } | undefined {
  if (state.version === 0 || state.policyVersion === null || state.purposes.ads_targeting !== 'granted') return undefined;
  const purposes: Purposes = { ...state.purposes, ads_targeting: 'denied' };
  const version = state.version + 1;
  const receipt: RecordedDecision = { receiptId, version, policyVersion: state.policyVersion, purposes, source: 'gpc', recordedAt: now };
  return { state: { version, policyVersion: state.policyVersion, purposes, updatedAt: now }, receipt };
}
