/**
 * Every HTTP route of the catalog with its contract, and valid requests to
 * start from: the property-based tests (bad-input, large-input) vary these.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { catalog, type FunctionSpec } from '../../../catalog';
import { routeContracts } from '../../../functions/contract';
import type { RouteContract } from '../../../functions/shared/http';
import { REPO_ROOT } from './stack-process';

export type HttpTrigger = Extract<FunctionSpec['trigger'], { kind: 'http' }>;
export interface Route {
  readonly name: string;
  readonly trigger: HttpTrigger;
  readonly contract: RouteContract;
  readonly params: readonly string[];
}

const functionSpecs: Record<string, FunctionSpec> = catalog.functions;
const contracts: Record<string, RouteContract | undefined> = routeContracts;

/** The catalog's HTTP routes whose function exists. */
export const routes: Route[] = Object.entries(functionSpecs).flatMap(([name, spec]) => {
  if (spec.trigger.kind !== 'http' || !existsSync(resolve(REPO_ROOT, spec.entry))) return [];
  const contract = contracts[name];
  if (!contract) throw new Error(`${name} has no route contract in functions/contract`);
  const params = [...spec.trigger.path.matchAll(/\{(\w+)\+?\}/g)].map((m) => m[1]!);
  return [{ name, trigger: spec.trigger, contract, params }];
});

export const label = (r: Route): string => `${r.trigger.method} ${r.trigger.path}`;

export const HEX = 'a'.repeat(64);

/** Valid bodies of the routes that take one; mutations of them probe one field at a time. Routes not listed start from {}. */
export const TEMPLATES: Record<string, unknown> = {
  startPhoneVerification: { phoneNumber: '+14155550123' },
  startEmailVerification: { email: 'ana@example.com' },
  putPhone: { verificationId: 'AAAAAAAAAAAAAAAAAAAAAA', code: '123456' },
  putEmail: { verificationId: 'AAAAAAAAAAAAAAAAAAAAAA', code: '123456' },
  createPolicy: { version: '2030-01-01', purposes: ['ads_targeting'], summary: 'A summary' },
  putConsent: { policyVersion: '2016-08-25', purposes: { ads_targeting: 'granted', friend_suggestions: 'denied' }, source: 'settings' },
  createAudience: { name: 'Flower shop', customerFileSource: 'USER_PROVIDED_ONLY' },
  addAudienceUsers: { session: { id: 1, batchSeq: 1, lastBatch: true, estimatedTotal: 10 }, schema: ['PHONE_SHA256', 'EMAIL_SHA256'], data: [[HEX, '']] },
  removeAudienceUsers: { session: { id: 1, batchSeq: 1, lastBatch: true }, schema: ['EMAIL_SHA256'], data: [[HEX]] },
  putKey: { publicKey: 'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo' },
  sendMessage: { to: '+14155550123', category: 'receipt', keyId: 'key-01KB0000000000000000000000', ciphertext: 'Zm9vYmFy', clientMessageId: 'order-1' },
  ackMessages: { messageIds: ['01KAZZZZZZZZZZZZZZZZZZZZZZ'] },
  putWebhook: { url: 'https://hooks.example.com/audiences', secret: `whsec_${'x'.repeat(32)}` },
};

/** Plausible values of path parameters, for requests whose bad part is elsewhere. */
export const PLAUSIBLE_PARAM: Record<string, string> = {
  id: `aud-${'0'.repeat(32)}`,
  sessionId: '1',
  userId: 'u-someone',
  phoneNumber: '+14155550123',
  businessId: 'biz-someone',
};

/** The route's path with its parameters filled in (plausible ones unless given). */
export function pathOf(route: Route, values: Readonly<Record<string, string>> = {}): string {
  return route.trigger.path.replace(/\{(\w+)\+?\}/g, (_, name: string) => encodeURIComponent(values[name] ?? PLAUSIBLE_PARAM[name] ?? 'x1'));
}

/** Every path of an object or array value, `[]` being the value itself. */
export function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const here = [prefix];
  if (Array.isArray(value)) return here.concat(value.flatMap((v, i) => pathsOf(v, [...prefix, i])));
  if (value && typeof value === 'object') return here.concat(Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...prefix, k])));
  return here;
}

/** A copy of `value` with the value at `path` replaced (`undefined` removes it from JSON). */
export function replaced(value: unknown, path: readonly (string | number)[], by: unknown): unknown {
  if (path.length === 0) return by;
  const [head, ...rest] = path;
  const copy = (Array.isArray(value) ? [...(value as unknown[])] : { ...(value as object) }) as Record<string | number, unknown>;
  copy[head!] = replaced(copy[head!], rest, by);
  return copy;
}
