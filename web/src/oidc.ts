/**
 * Signing in through the OpenID provider (deployed: the Cognito user pool's
 * hosted UI) with the authorization code flow and PKCE, by oidc-client-ts.
 * Loaded only when the configuration asks for it. The ID token is the bearer
 * token: the API's JWT authorizer accepts the app client as its audience, and
 * the token carries the caller's role as a Cognito group.
 */
import { UserManager, WebStorageStateStore } from 'oidc-client-ts';
import type { SignInConfig } from './config';
import { sessionFromToken, type Session } from './session';

type OidcConfig = Extract<SignInConfig, { kind: 'oidc' }>;

function manager(config: OidcConfig): UserManager {
  const home = `${location.origin}/`;
  return new UserManager({
    authority: config.authority,
    client_id: config.clientId,
    redirect_uri: home,
    post_logout_redirect_uri: home,
    response_type: 'code',
    scope: 'openid email profile',
    // PKCE (S256) is oidc-client-ts's default for the code flow; state and the verifier live in this tab only.
    stateStore: new WebStorageStateStore({ store: sessionStorage }),
    userStore: new WebStorageStateStore({ store: sessionStorage }),
    automaticSilentRenew: false,
    loadUserInfo: false,
  });
}

/** Sends the browser to the provider's sign-in page. */
export async function startSignIn(config: OidcConfig): Promise<void> {
  await manager(config).signinRedirect();
}

/** After the provider redirects back with `?code=…&state=…`: exchanges the code (with the PKCE verifier) for tokens. */
export async function completeSignIn(config: OidcConfig): Promise<Session | undefined> {
  const params = new URLSearchParams(location.search);
  if (!params.has('state') || !(params.has('code') || params.has('error'))) return undefined;
  try {
    const user = await manager(config).signinRedirectCallback();
    if (!user.id_token) throw new Error('The sign-in gave no ID token.');
    const session = sessionFromToken(user.id_token, 'oidc');
    if (!session) throw new Error('Your account has no role in this service yet: ask an operator to add you to a group.');
    return session;
  } finally {
    history.replaceState(null, '', `${location.pathname}${location.hash}`);
  }
}

/** Forgets the tokens here and, when the provider has a logout page, ends its session too. */
export async function signOut(config: OidcConfig): Promise<void> {
  await manager(config).removeUser();
  if (config.logoutUrl) {
    const url = new URL(config.logoutUrl);
    url.searchParams.set('client_id', config.clientId);
    url.searchParams.set('logout_uri', `${location.origin}/`);
    location.assign(url.toString());
  }
}
