/**
 * The app's run-time configuration, `/config.json` beside index.html: where
 * the API is and how people sign in. The local stack's web server writes it
 * (local/web.ts); deployed, the CDK app puts it in the bucket with the stack's
 * API URL and Cognito client (infra/constructs/web-app.ts).
 */
export type SignInConfig =
  | { readonly kind: 'local' }
  | {
      readonly kind: 'oidc';
      /** The OpenID provider (the Cognito user pool's issuer URL): its discovery document names the hosted UI. */
      readonly authority: string;
      readonly clientId: string;
      /** Where signing out ends the provider's session too (Cognito's `/logout`). */
      readonly logoutUrl?: string;
    };

export interface WebConfig {
  readonly apiUrl: string;
  readonly signIn: SignInConfig;
}

function isConfig(value: unknown): value is WebConfig {
  const config = value as Partial<WebConfig> | null;
  if (typeof config?.apiUrl !== 'string' || !/^https?:\/\//.test(config.apiUrl)) return false;
  const signIn = config.signIn as Partial<{ kind: string; authority: string; clientId: string }> | undefined;
  if (signIn?.kind === 'local') return true;
  return signIn?.kind === 'oidc' && typeof signIn.authority === 'string' && typeof signIn.clientId === 'string';
}

export async function loadConfig(): Promise<WebConfig> {
  const response = await fetch('/config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`The app's configuration (/config.json) is missing (${response.status}).`);
  const config: unknown = await response.json();
  if (!isConfig(config)) throw new Error("The app's configuration (/config.json) is not valid.");
  return { ...config, apiUrl: config.apiUrl.replace(/\/+$/, '') };
}
