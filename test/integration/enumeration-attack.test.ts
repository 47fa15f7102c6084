/**
 * An attack, written from the attacker's side: with one user token, learn
 * which of 1,000 phone numbers use the app (half of them do) through every
 * route the token can reach.
 *
 * The attacker sends each number to every route that takes a number (start
 * a verification, bind it with a plain PUT and with a made-up verification,
 * send it a message, an unknown route with the number in its path) and, for
 * the first 100 numbers, to every other route of the API as well (the number
 * in each path parameter, each string of a valid body and the query). What
 * it sees of each answer: status, headers, body shape and problem type, and
 * latency. It is the strongest attacker we can write down: it knows the
 * truth for 200 of the numbers (numbers it registered itself, and numbers it
 * knows are free) and trains on them a classifier that uses an answer's
 * whole signature when that signature was seen with one label only, and the
 * nearer mean latency otherwise, voting over routes. It is then scored on
 * the other 800 numbers.
 *
 * Result to hold: accuracy at chance. With 800 scored numbers, a guesser at
 * chance scores above 0.5 + 3.29 * sqrt(0.25 / 800) = 0.558 with probability
 * 0.0005, so the test asserts accuracy below 0.558 (99.9 % two-sided
 * confidence that an attacker above it is not at chance).
 * Local-only routes (`/_local/...`, which serve codes on purpose) exist in
 * no deployed stack and are left out.
 */
import { randomInt } from 'node:crypto';
import { newId, startStack, type ApiResponse, type PrivateStack } from './support';
import { routes, TEMPLATES, pathOf, type Route } from './support/routes';
import { createUser, mapLimit, uniquePhone } from './support/users';

const NUMBERS = 1_000;
const TRAINING = 200;
const FULL_SWEEP = 100;
const BOUND = 0.5 + 3.29 * Math.sqrt(0.25 / (NUMBERS - TRAINING));

let stack: PrivateStack;
beforeAll(async () => {
  stack = await startStack();
}, 90_000);
afterAll(async () => {
  await stack?.stop();
});

interface Observation {
  readonly probe: string;
  readonly signature: string;
  readonly ms: number;
}

/** Everything an attacker sees of an answer but its latency, without the values that change on every request. */
function signatureOf(res: ApiResponse): string {
  const headers = Object.entries(res.headers)
    .filter(([h]) => !['date', 'content-length', 'x-request-id', 'apigw-requestid', 'x-amzn-requestid'].includes(h))
    .map(([h, v]) => (h === 'retry-after' ? `${h}:${Math.round(Number(v) / 60)}` : `${h}:${/json/.test(h) ? v : h === 'content-type' ? v : '*'}`))
    .sort();
  const body =
    res.json && typeof res.json === 'object' ? { keys: Object.keys(res.json).sort(), type: res.json.type, errors: res.json.errors } : res.text.length;
  return JSON.stringify({ status: res.status, headers, body });
}

/** Every string in a JSON value replaced by `value`. */
const withEverywhere = (template: unknown, value: string): unknown =>
  typeof template === 'string'
    ? value
    : Array.isArray(template)
      ? template.map((t) => withEverywhere(t, value))
      : template && typeof template === 'object'
        ? Object.fromEntries(Object.entries(template).map(([k, v]) => [k, withEverywhere(v, value)]))
        : template;

describe('an attacker with one user token', () => {
  it(`cannot tell which of ${NUMBERS} numbers are registered: accuracy stays below ${BOUND.toFixed(3)} over ${NUMBERS - TRAINING} scored numbers`, async () => {
    // Prepare: 1,000 numbers, half of them registered by accounts of their own (through the verification flow)
    const baseUrl = stack.url;
    const numbers = Array.from({ length: NUMBERS }, () => uniquePhone());
    const registered = new Set(numbers.filter((_, i) => i % 2 === 0));
    await mapLimit([...registered], 8, (phone) => createUser({ baseUrl, phone }));
    const attacker = await stack.tokenFor('user', newId('attacker'));
    // The attacker's order is its own: shuffled, so nothing lines up with how the numbers were made
    const order = [...numbers];
    for (let i = order.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const sweep: Route[] = routes.filter((r) => r.trigger.path !== '/v1/me' || r.trigger.method !== 'DELETE');

    const timed = async (probe: string, method: string, path: string, body?: unknown): Promise<Observation> => {
      const t = performance.now();
      const res = await stack.api(method, path, { token: attacker, ...(body !== undefined ? { body } : {}) });
      return { probe, signature: signatureOf(res), ms: performance.now() - t };
    };

    // Act: every number through every route that takes a number; the first 100 through every route
    const seen = new Map<string, Observation[]>();
    for (const [i, phone] of order.entries()) {
      const observations = [
        await timed('start verification', 'POST', '/v1/me/phone/verification', { phoneNumber: phone }),
        await timed('plain PUT', 'PUT', '/v1/me/phone', { phoneNumber: phone }),
        await timed('made-up verification', 'PUT', '/v1/me/phone', { verificationId: phone.replace('+', 'A').padEnd(22, 'A'), code: phone.slice(-6) }),
        await timed('send a message', 'POST', '/v1/messages', { to: phone, category: 'receipt', ciphertext: 'Zm9vYmFy' }),
        await timed('unknown route', 'GET', `/v1/users/${encodeURIComponent(phone)}`),
      ];
      if (i < FULL_SWEEP) {
        for (const route of sweep) {
          const path = `${pathOf(route, Object.fromEntries(route.params.map((p) => [p, phone])))}?to=${encodeURIComponent(phone)}`;
          const body = route.contract.body ? withEverywhere(TEMPLATES[route.name] ?? {}, phone) : undefined;
          observations.push(await timed(`${route.trigger.method} ${route.trigger.path}`, route.trigger.method, path, body));
        }
      }
      seen.set(phone, observations);
    }

    // The attacker's classifier, trained on the first 200 numbers it probed
    const training = order.slice(0, TRAINING);
    const scored = order.slice(TRAINING);
    const labels = new Map<string, Set<boolean>>(); // probe + signature -> labels seen
    const latency = new Map<string, { held: number[]; free: number[] }>(); // probe -> latencies by label
    for (const phone of training) {
      const held = registered.has(phone);
      for (const o of seen.get(phone)!) {
        const key = `${o.probe}|${o.signature}`;
        labels.set(key, (labels.get(key) ?? new Set()).add(held));
        const l = latency.get(o.probe) ?? { held: [], free: [] };
        (held ? l.held : l.free).push(o.ms);
        latency.set(o.probe, l);
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const guess = (phone: string): boolean => {
      let votes = 0;
      for (const o of seen.get(phone)!) {
        const known = labels.get(`${o.probe}|${o.signature}`);
        if (known?.size === 1) votes += known.has(true) ? 10 : -10; // a signature seen with one label only
        const l = latency.get(o.probe);
        if (l && l.held.length > 0 && l.free.length > 0) votes += Math.abs(o.ms - mean(l.held)) < Math.abs(o.ms - mean(l.free)) ? 1 : -1;
      }
      return votes === 0 ? randomInt(2) === 1 : votes > 0;
    };
    const correct = scored.filter((phone) => guess(phone) === registered.has(phone)).length;
    const accuracy = correct / scored.length;

    // Assess
    process.stderr.write(`enumeration attack: ${correct}/${scored.length} correct (accuracy ${accuracy.toFixed(3)}, chance bound ${BOUND.toFixed(3)})\n`);
    expect(scored.filter((p) => registered.has(p)).length).toBeGreaterThan(300); // both kinds are scored
    expect(accuracy).toBeLessThan(BOUND);
    // Every answer seen at least 20 times in training was seen for registered and free numbers alike
    const counts = new Map<string, number>();
    for (const phone of training) for (const o of seen.get(phone)!) counts.set(`${o.probe}|${o.signature}`, (counts.get(`${o.probe}|${o.signature}`) ?? 0) + 1);
    const telling = [...counts].filter(([key, n]) => n >= 20 && labels.get(key)!.size === 1).map(([key]) => key);
    expect(new Set([...counts.keys()].map((k) => k.split('|')[0])).size).toBeGreaterThan(20); // every route was probed
    expect(telling).toEqual([]);
  }, 900_000);
});
