/**
 * Signing in as the deployed app does: the authorization code flow with PKCE
 * through oidc-client-ts. The page gets the configuration a deployment
 * writes (`signIn: oidc`), and the test plays the OpenID provider (discovery,
 * the hosted UI's redirect back with a code, the token endpoint), answering
 * the browser's requests to it. Its ID token is signed with the local stack's
 * issuer key and carries the role as a Cognito group, so the API accepts it
 * as API Gateway's JWT authorizer accepts Cognito's. The local picker is
 * covered by every other browser test.
 */
import { createHash } from 'node:crypto';
import { SignJWT, importJWK, calculateJwkThumbprint, type JWK } from 'jose';
import type { Browser, Route } from 'playwright-core';
import { LOCAL_AUDIENCE, LOCAL_ISSUER } from '../../local/identity';
import { api, apiUrl, hasText, launchBrowser, newPage, pageErrors, shows, uniqueSub, webUrl } from './support';

jest.setTimeout(120_000);

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(() => browser?.close());

async function idToken(claims: Record<string, unknown>): Promise<string> {
  const jwk = JSON.parse(process.env.BROWSER_JWT_PRIVATE_JWK ?? 'null') as JWK | null;
  if (!jwk) throw new Error('BROWSER_JWT_PRIVATE_JWK is not set by the global setup');
  const kid = await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! });
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid })
    .setIssuer(LOCAL_ISSUER)
    .setAudience(LOCAL_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(await importJWK({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, d: jwk.d }, 'ES256'));
}

describe('signing in through an OpenID provider', () => {
  it('uses the code flow with a PKCE challenge, signs in with the ID token, and signs out at the provider', async () => {
    const sub = uniqueSub('oidc-user');
    const { context, page } = await newPage(browser);
    const web = webUrl();
    // The provider's endpoints answer on the app's own origin (under /oidc-test, routed here), so the page's CSP and
    // the browser's local-network rules see what they see deployed: a provider the app is allowed to call.
    const provider = `${web}/oidc-test`;
    let authorize: URLSearchParams | undefined;
    let exchange: URLSearchParams | undefined;
    let logout: URLSearchParams | undefined;

    // The configuration a deployment writes.
    await page.route(`${web}/config.json`, (route) =>
      route.fulfill({
        json: { apiUrl: apiUrl(), signIn: { kind: 'oidc', authority: provider, clientId: LOCAL_AUDIENCE, logoutUrl: `${provider}/logout` } },
      }),
    );
    await page.route(`${provider}/**`, async (route: Route) => {
      const url = new URL(route.request().url());
      const path = url.pathname.replace(/^\/oidc-test/, '');
      if (path === '/.well-known/openid-configuration') {
        return route.fulfill({
          json: {
            issuer: LOCAL_ISSUER,
            authorization_endpoint: `${provider}/oauth2/authorize`,
            token_endpoint: `${provider}/oauth2/token`,
            jwks_uri: `${provider}/.well-known/jwks.json`,
            response_types_supported: ['code'],
            code_challenge_methods_supported: ['S256'],
          },
        });
      }
      if (path === '/oauth2/authorize') {
        // The hosted UI: the person signs in there, and it sends the browser back with a code.
        authorize = url.searchParams;
        const back = new URL(url.searchParams.get('redirect_uri')!);
        back.searchParams.set('code', 'one-time-code');
        back.searchParams.set('state', url.searchParams.get('state')!);
        return route.fulfill({ contentType: 'text/html', body: `<meta http-equiv="refresh" content="0;url=${back.toString()}">` });
      }
      if (path === '/oauth2/token') {
        exchange = new URLSearchParams(route.request().postData() ?? '');
        const nonce = authorize?.get('nonce');
        const token = await idToken({ sub, 'cognito:groups': ['user'], email: 'ana@example.com', ...(nonce && { nonce }) });
        return route.fulfill({ json: { id_token: token, access_token: token, token_type: 'Bearer', expires_in: 3600 } });
      }
      if (path === '/logout') {
        logout = url.searchParams;
        return route.fulfill({ contentType: 'text/html', body: `<meta http-equiv="refresh" content="0;url=${url.searchParams.get('logout_uri')!}">` });
      }
      return route.fulfill({ status: 404, body: 'not found' });
    });

    await page.goto(web);
    await hasText(page.getByRole('heading', { level: 1 }), 'Sign in');
    expect(await page.getByLabel('Account id').count()).toBe(0); // no picker when deployed
    await page.getByRole('button', { name: 'Sign in' }).click();

    // Back in the app, signed in: the notification, read with the ID token from the API.
    await hasText(page.getByRole('heading', { level: 1 }), "We're updating our privacy policy");
    await shows(page.getByText('ana@example.com (user)'));
    expect(new URL(page.url()).search).toBe(''); // the code and state are gone from the address

    expect(authorize?.get('response_type')).toBe('code');
    expect(authorize?.get('client_id')).toBe(LOCAL_AUDIENCE);
    expect(authorize?.get('redirect_uri')).toBe(`${web}/`);
    expect(authorize?.get('scope')).toBe('openid email profile');
    expect(authorize?.get('code_challenge_method')).toBe('S256');
    expect(exchange?.get('grant_type')).toBe('authorization_code');
    expect(exchange?.get('code')).toBe('one-time-code');
    const verifier = exchange?.get('code_verifier') ?? '';
    expect(verifier.length).toBeGreaterThanOrEqual(43);
    expect(createHash('sha256').update(verifier).digest('base64url')).toBe(authorize?.get('code_challenge'));

    // The API took the ID token as the caller's: a decision from the page is hers.
    await page.getByRole('group', { name: 'Ads' }).getByRole('radio', { name: "Don't allow" }).check();
    await page.getByRole('group', { name: 'Friend suggestions' }).getByRole('radio', { name: "Don't allow" }).check();
    await page.getByRole('button', { name: 'Save my choices' }).click();
    await hasText(page.getByRole('heading', { level: 1 }), 'Your choices are saved');
    const history = await api<{ items: { source: string }[] }>('GET', '/v1/me/consent/history', { token: await idToken({ sub, 'cognito:groups': ['user'] }) });
    expect(history.json.items).toEqual([expect.objectContaining({ source: 'notification' })]);

    // Signing out forgets the tokens and ends the provider's session, which sends the browser back.
    // The provider's logout page sends the browser back to the app (the first navigation to its address since sign-in).
    const backHome = page.waitForEvent('framenavigated', { predicate: (frame) => frame === page.mainFrame() && frame.url() === `${web}/`, timeout: 30_000 });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await backHome;
    await page.waitForLoadState('load');
    await hasText(page.getByRole('heading', { level: 1 }), 'Sign in');
    expect(logout?.get('client_id')).toBe(LOCAL_AUDIENCE);
    expect(logout?.get('logout_uri')).toBe(`${web}/`);
    expect(await page.evaluate('Object.keys(sessionStorage).filter((k) => !k.startsWith("oidc."))')).toEqual([]);
    expect(await pageErrors(page)).toEqual([]);
    await context.close();
  });
});
