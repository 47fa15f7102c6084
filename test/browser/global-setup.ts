/**
 * Starts ONE local stack for the browser tests exactly as a person would,
 * `npm start -- --port 0` (API and web app on free ports), publishes the
 * seed story's privacy policy, and hands the test files the two addresses
 * (process.env; jest's workers inherit it).
 */
import { generateKeyPairSync } from 'node:crypto';
import { spawnStack, type StackProcess } from '../integration/support/stack-process';
import { SEED_POLICY } from './policy';

declare global {
  var __BROWSER_STACK__: StackProcess | undefined;
}

export default async function globalSetup(): Promise<void> {
  // The stack's issuer key is known here, so the sign-in test can play an OpenID provider whose tokens the API accepts.
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signingKey = JSON.stringify(privateKey.export({ format: 'jwk' }));
  process.env.BROWSER_JWT_PRIVATE_JWK = signingKey;
  const stack = await spawnStack({
    viaNpmStart: true,
    readyTimeoutMs: 90_000,
    env: { LOCAL_JWT_PRIVATE_JWK: signingKey, LOCAL_VISIBILITY_TIMEOUT_SECONDS: '2' },
  });
  globalThis.__BROWSER_STACK__ = stack;
  if (!stack.webUrl) throw new Error(`npm start printed no web app address. Its output:\n${stack.output()}`);
  process.env.BROWSER_API_URL = stack.url;
  process.env.BROWSER_WEB_URL = stack.webUrl;

  const post = async (path: string, body: unknown, token?: string) =>
    fetch(`${stack.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
    });
  const { token } = (await (await post('/_local/token', { role: 'operator', sub: 'privacy-team' })).json()) as { token: string };
  const published = await post('/v1/policies', SEED_POLICY, token);
  if (published.status !== 201) throw new Error(`Publishing the policy answered ${published.status}: ${await published.text()}`);
}
