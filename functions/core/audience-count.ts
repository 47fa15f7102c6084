/**
 * What a business learns about an audience's size: a range, never a count.
 *
 * The contract asks for a range that (1) ALWAYS contains the true number of
 * members n, (2) is at most max(200, 20% of n) wide, (3) is {0, M} with
 * `targetable: false` below the minimum audience size M, and (4) does not let
 * a business learn whether one person is a member by padding a list with
 * accounts it controls until the count sits on a rounding or threshold
 * boundary and then adding the person. Deterministic rounding fails (4): the
 * boundary is a fixed function of n, so the attacker finds it with its own
 * accounts and the answer flips exactly when the person matches.
 *
 * THE RULE. A 256-bit seed = HMAC-SHA256(count-noise key, audience id, revision,
 * expired), where `revision` goes up with every change the audience goes
 * through (each matched chunk of an add or remove batch, whether or not
 * anyone matched, and each removal by consent withdrawal) and `expired` is
 * the number of memberships that expired by time. Three independent uniforms
 * in [0, 1) come from the seed: u_t, u_w, u_o. Then:
 *
 *   threshold  c = M - floor(u_t * (floor(M/2) + 1))        in [M - floor(M/2), M]
 *   if n < c:  {lower: 0, upper: M}, targetable false       (contains n: n < c <= M)
 *   width      v = n * (1 + u_w) / 2                          in [n/2, n)
 *              w = 200 * 2^k, k the largest integer >= 0 with 1000 * 2^k <= v (k = 0 if none)
 *   offset     o = floor(u_o * w)                             in [0, w)
 *   range      lower = o + w * floor((n - o) / w), upper = lower + w, lower clipped at 0
 *   targetable true
 *
 * (1) lower <= n < upper by construction. (2) upper - lower <= w; w = 200 when
 * k = 0, and for k >= 1, w = 200 * 2^k <= v / 5 < n / 5. (The {0, M} answer is
 * what the contract prescribes below the minimum; it is within the width bound
 * for any M <= 200, the default 100 included.) (3) the {0, M} answer
 * only appears when n < c <= M, and whenever n < ceil(M/2) it always appears;
 * between ceil(M/2) and M the crossing point is random, so "below the minimum"
 * is a noisy threshold applied before the rounding, as the contract suggests.
 * An audience is never targetable below ceil(M/2) members.
 *
 * WHY IT RESISTS THE PADDING ATTACK. The seed is fresh for every state the
 * audience passes through: adding the target's row bumps the revision whether
 * or not the target matches, so the attacker's observation after adding the
 * person is a fresh draw from D_{P} (not a member) or D_{P+1} (a member),
 * where P is the count of its own accounts. Walking its own accounts up to a
 * "boundary" beforehand is useless: every one of those steps redrew the grid,
 * the width and the threshold, so no boundary it saw is where the next
 * observation's boundary is. A single observation distinguishes P from P+1
 * only when a boundary of the fresh draw falls between them:
 *
 *   TV(D_P, D_{P+1}) <= 1/(floor(M/2) + 1)   if P+1 is in [ceil(M/2), M] (the threshold band)
 *                     + 1/w                   (the grid: one offset in w puts a boundary there)
 *                     + 2/(1000 * 2^k)        (a width step, only near n = 1000 * 2^k .. 2000 * 2^k)
 *
 * so the best possible guess from one observation is right with probability
 * at most 1/2 + TV/2: about 50.25% in the grid region (w >= 200) and about
 * 51% in the threshold band for M = 100. The width ladder reveals n only to
 * within a factor of about 4 (n in [5w, 20w)), which the range itself already
 * reveals more precisely; its step points are randomised over a factor of 2
 * so the width change is no sharp boundary either.
 *
 * WHAT NO RULE CAN DO (documented residual risk). Every range must contain n
 * and be at most 200 wide for n <= 1000, so for any rule some P has
 * TV(D_P, D_{P+1}) >= 1/201 (sum the TVs over 201 consecutive counts: the
 * first and last ranges cannot overlap). And the seed MUST change when a row
 * that matches nobody is added (otherwise "nothing changed" would itself
 * reveal that the person is not a member), so a business can redraw the
 * range of the same count by adding junk rows, and k observations of one
 * state leak at most 1 - (1 - TV)^k: after a few hundred deliberate uploads to
 * one audience the intersection of the ranges pins n. The quota of audiences
 * and these bounds limit each attempt; detecting or rate-limiting many tiny
 * uploads to one audience is the operational control for the rest.
 */
import { createHmac } from 'node:crypto';

export interface ApproximateCount {
  readonly lower: number;
  readonly upper: number;
}

export interface CountReport {
  readonly approximateCount: ApproximateCount;
  readonly targetable: boolean;
}

/** The narrowest range width; the contract allows max(200, 20% of the count). */
export const BASE_WIDTH = 200;
/** Where the width ladder starts doubling: 5 * BASE_WIDTH, the count at which 20% reaches 200. */
const LADDER_START = 5 * BASE_WIDTH;

/** The widest range the contract allows for a count. */
export const widthLimit = (n: number): number => Math.max(BASE_WIDTH, Math.floor(n / 5));

/** The seed of one audience state. Never logged or returned. */
export function countSeed(key: Buffer, audienceId: string, revision: number, expired: number): Buffer {
  return createHmac('sha256', key).update(`approximate-count/v1\0${audienceId}\0${revision}\0${expired}`).digest();
}

/** Three independent uniforms in [0, 1) from disjoint 48-bit slices of the seed. */
export function seedUniforms(seed: Buffer): { threshold: number; width: number; offset: number } {
  const u = (at: number) => seed.readUIntBE(at, 6) / 2 ** 48;
  return { threshold: u(0), width: u(6), offset: u(12) };
}

/** The count at or above which this state reports a real range: in [M - floor(M/2), M]. */
export function noisyThreshold(minSize: number, uThreshold: number): number {
  const band = Math.floor(minSize / 2);
  return minSize - Math.floor(uThreshold * (band + 1));
}

/** The quantised width: 200 * 2^k with 1000 * 2^k <= n * (1 + u) / 2. */
export function ladderWidth(n: number, uWidth: number): number {
  const v = (n * (1 + uWidth)) / 2;
  let k = 0;
  while (LADDER_START * 2 ** (k + 1) <= v) k += 1;
  return BASE_WIDTH * 2 ** k;
}

/** The grid bucket of width w, shifted by o, that contains n (lower clipped at 0). */
export function shiftedBucket(n: number, w: number, o: number): ApproximateCount {
  const lower = o + w * Math.floor((n - o) / w);
  return { lower: Math.max(0, lower), upper: lower + w };
}

/** The answer for a true count n under one seed (see the rule above). */
export function reportCount(n: number, minSize: number, seed: Buffer): CountReport {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error('A member count is a whole number');
  const u = seedUniforms(seed);
  if (n < noisyThreshold(minSize, u.threshold)) return belowMinimum(minSize);
  const w = ladderWidth(n, u.width);
  const o = Math.floor(u.offset * w);
  return { approximateCount: shiftedBucket(n, w, o), targetable: true };
}

/** The answer of an audience below the minimum size, whatever its count. */
export const belowMinimum = (minSize: number): CountReport => ({ approximateCount: { lower: 0, upper: minSize }, targetable: false });

/**
 * An upper bound on what one observation can tell apart counts P and P+1
 * (total variation distance of the answers), from the rule above: used by the
 * tests to check the simulated attacker against theory.
 */
export function distinguishingBound(p: number, minSize: number): number {
  const band = Math.floor(minSize / 2);
  const thresholdPart = p + 1 >= minSize - band && p + 1 <= minSize ? 1 / (band + 1) : 0;
  // The grid part: the narrowest width either count can get.
  const w = ladderWidth(p, 0);
  // A width step from 200 * 2^(k-1) to 200 * 2^k falls between P and P+1 for u_w in an
  // interval of length 2000 * 2^k / (P (P+1)), and only for P+1 in (1000 * 2^k, 2000 * 2^k].
  let stepPart = 0;
  for (let k = 1; LADDER_START * 2 ** k < p + 1; k++) {
    if (p < 2 * LADDER_START * 2 ** k) stepPart += (2 * LADDER_START * 2 ** k) / (p * (p + 1));
  }
  return thresholdPart + 1 / w + stepPart;
}
