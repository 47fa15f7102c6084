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
 * THE RULE. A 256-bit seed (per release: core/size-release.ts) gives three
 * independent uniforms in [0, 1): u_t, u_w, u_o. With B = floor(M/2):
 *
 *   base offset  o0 = floor(u_o * 200)                       grid boundaries at o0 + 200j
 *   threshold    c  = the boundary o0 + 200j in [M - B, M] if one falls there (at most
 *                     one does while B + 1 <= 200), else M - floor(u_t * (B + 1))
 *   if n < c:    {lower: 0, upper: M}, targetable false      (contains n: n < c <= M)
 *   width        v = n * (1 + u_w) / 2                         in [n/2, n)
 *                w = 200 * 2^k, k the largest integer >= 0 with 1000 * 2^k <= v (k = 0 if none)
 *   offset       o = floor(u_o * w)                            (= o0 whenever w = 200)
 *   range        lower = o + w * floor((n - o) / w), upper = lower + w, lower clipped at 0
 *   targetable   true
 *
 * c is uniform over [M - B, M]: P(c = x) = 1/200 (a boundary at x) + (1 - (B+1)/200) / (B+1)
 * (no boundary in the band, then uniform) = 1/(B+1). Taking the grid boundary
 * as the threshold when one falls in the band means that, for counts in the
 * band, "the threshold falls between P and P+1" and "a grid boundary falls
 * between P and P+1" are one event, not two: the band leaks 1/(B+1) per
 * release instead of 1/(B+1) + 1/200 (see distinguishingBound).
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
 * WHY IT RESISTS THE PADDING ATTACK. Every release draws a fresh seed, so the
 * attacker's observation after adding the person is a fresh draw from D_P
 * (not a member) or D_{P+1} (a member), where P is the count of its own
 * accounts. Walking its own accounts up to a "boundary" beforehand is
 * useless: every one of those steps was another release with its own grid,
 * width and threshold, so no boundary it saw is where the next observation's
 * boundary is. With the same seed, the answers for P and P+1 differ only when
 * a boundary of that draw falls between them, which happens with probability
 *
 *   1/(B + 1)                 if P+1 is in [M - B, M] (the threshold band; 1/51 for M = 100)
 *   0                         if P+1 < M - B (both always below the minimum)
 *   1/w + 2/(1000 * 2^k)...   above the band (the grid, plus a width step near n = 1000 * 2^k .. 2000 * 2^k)
 *
 * and this coupling bounds what any sequence of releases can tell (see
 * core/size-release.ts): k releases about P or P+1 differ with probability at
 * most 1 - (1 - eps)^k, eps the largest of these, so no attacker is right more
 * often than 1/2 + (1 - (1 - eps)^k) / 2. The width ladder reveals n only to
 * within a factor of about 4 (n in [5w, 20w)), which the range itself already
 * reveals more precisely; its step points are randomised over a factor of 2
 * so the width change is no sharp boundary either.
 *
 * WHAT NO RULE CAN DO (why releases are rationed). Every range must contain
 * n and be at most 200 wide for n <= 1000, so for any rule some P has
 * TV(D_P, D_{P+1}) >= 1/201 (sum the TVs over 201 consecutive counts: the
 * first and last ranges cannot overlap), and the threshold band adds its own
 * 1/(B+1). A release must also be fresh when only rows that match nobody were
 * added (otherwise "nothing changed" would itself reveal that the person is
 * not a member), so every release is another draw, and enough of them pin n.
 * Only their number can be bounded: core/size-release.ts rations them.
 */

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

/** Three independent uniforms in [0, 1) from disjoint 48-bit slices of the seed. */
export function seedUniforms(seed: Buffer): Uniforms {
  const u = (at: number) => seed.readUIntBE(at, 6) / 2 ** 48;
  return { threshold: u(0), width: u(6), offset: u(12) };
}

export interface Uniforms {
  readonly threshold: number;
  readonly width: number;
  readonly offset: number;
}

/**
 * The count at or above which a draw reports a real range: in [M - floor(M/2), M],
 * uniformly. When a boundary of the base grid (offset floor(u_o * 200)) falls in
 * that band it is the threshold; otherwise u_t places it.
 */
export function noisyThreshold(minSize: number, u: Pick<Uniforms, 'threshold' | 'offset'>): number {
  const band = Math.floor(minSize / 2);
  const low = minSize - band;
  if (band + 1 <= BASE_WIDTH) {
    const o = Math.floor(u.offset * BASE_WIDTH);
    const boundary = o + BASE_WIDTH * Math.ceil((low - o) / BASE_WIDTH);
    if (boundary <= minSize) return boundary;
  }
  return minSize - Math.floor(u.threshold * (band + 1));
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

/** The answer for a true count n under one draw of the uniforms (see the rule above). */
export function reportFromUniforms(n: number, minSize: number, u: Uniforms): CountReport {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error('A member count is a whole number');
  if (n < noisyThreshold(minSize, u)) return belowMinimum(minSize);
  const w = ladderWidth(n, u.width);
  const o = Math.floor(u.offset * w);
  return { approximateCount: shiftedBucket(n, w, o), targetable: true };
}

/** The answer for a true count n under one seed (see the rule above). */
export const reportCount = (n: number, minSize: number, seed: Buffer): CountReport => reportFromUniforms(n, minSize, seedUniforms(seed));

/** The answer of an audience below the minimum size, whatever its count. */
export const belowMinimum = (minSize: number): CountReport => ({ approximateCount: { lower: 0, upper: minSize }, targetable: false });

/**
 * An upper bound on the probability that one draw answers differently for
 * counts P and P+1 (which bounds the total variation distance of the answers,
 * and, release after release, what any sequence of them can tell), from the
 * rule above.
 */
export function distinguishingBound(p: number, minSize: number): number {
  const band = Math.floor(minSize / 2);
  const low = minSize - band;
  if (p + 1 < low) return 0;
  // In the band the threshold, coupled with the grid, is the only boundary that can fall between P and P+1.
  const coupled = band + 1 <= BASE_WIDTH;
  const inBand = p + 1 <= minSize;
  if (inBand && coupled) return 1 / (band + 1);
  const thresholdPart = inBand ? 1 / (band + 1) : 0;
  // The grid part: the narrowest width either count can get.
  const w = ladderWidth(p, 0);
  // A width step from 200 * 2^(k-1) to 200 * 2^k falls between P and P+1 for u_w in an
  // interval of length 2000 * 2^k / (P (P+1)), and only for P+1 in (1000 * 2^k, 2000 * 2^k].
  let stepPart = 0;
  for (let k = 1; LADDER_START * 2 ** k < p + 1; k++) {
    if (p < 2 * LADDER_START * 2 ** k) stepPart += (2 * LADDER_START * 2 ** k) / (p * (p + 1));
  }
  return Math.min(1, thresholdPart + 1 / w + stepPart);
}
