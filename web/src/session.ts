/**
 * Who is signed in: a bearer token and what it says about its holder. The
 * token is kept in this tab's sessionStorage (it survives a reload, not the
 * tab) and sent only to the API. Locally it comes from the stack's
 * development issuer (`POST /_local/token`, local stacks only); deployed,
 * from Cognito's hosted UI through ./oidc.ts.
 */
export type Role = 'user' | 'business' | 'operator';
export const ROLES: readonly Role[] = ['user', 'business', 'operator'];

export interface Session {
  readonly token: string;
  readonly role: Role;
  readonly sub: string;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
  /** A name to show: the email or user name the provider gives, else the subject. */
  readonly name: string;
  readonly via: 'local' | 'oidc';
}

const KEY = 'consent-audiences.session';

/** This tab's sessionStorage (typed here by what is used, so the module also compiles for Node's tests). */
const storage = (): { getItem(key: string): string | null; setItem(key: string, value: string): void; removeItem(key: string): void } =>
  (globalThis as unknown as { sessionStorage: ReturnType<typeof storage> }).sessionStorage;

/** The token's claims, unverified: for the page's own display only (the API verifies every token). */
export function claimsOf(token: string): Record<string, unknown> {
  const part = token.split('.')[1] ?? '';
  try {
    const json = atob(
      part
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(part.length / 4) * 4, '='),
    );
    const claims: unknown = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
    return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The role a token carries: `role`, or a Cognito group named after one. */
export function roleOf(claims: Record<string, unknown>): Role | undefined {
  const role = claims.role;
  if (typeof role === 'string' && (ROLES as readonly string[]).includes(role)) return role as Role;
  const groups = claims['cognito:groups'];
  if (Array.isArray(groups)) return ROLES.find((r) => groups.includes(r));
  return undefined;
}

export function sessionFromToken(token: string, via: Session['via']): Session | undefined {
  const claims = claimsOf(token);
  const role = roleOf(claims);
  const sub = typeof claims.sub === 'string' ? claims.sub : undefined;
  const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  if (!role || !sub || !exp) return undefined;
  const name = [claims.email, claims['cognito:username'], claims.username].find((v): v is string => typeof v === 'string') ?? sub;
  return { token, role, sub, expiresAt: exp, name, via };
}

export function loadSession(): Session | undefined {
  try {
    const stored = JSON.parse(storage().getItem(KEY) ?? 'null') as Session | null;
    if (!stored || typeof stored.token !== 'string' || stored.expiresAt <= Date.now() + 30_000) return undefined;
    return stored;
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session): void {
  storage().setItem(KEY, JSON.stringify(session));
}

export function clearSession(): void {
  storage().removeItem(KEY);
}

/**
 * A token from the local stack's development issuer. `/_local/token` is not
 * part of the API (no deployed stack has it), so it is not in the typed
 * client: this is the one request the app makes by hand.
 */
export async function signInLocal(apiUrl: string, role: Role, sub: string): Promise<Session> {
  const response = await fetch(`${apiUrl}/_local/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ role, sub }),
  });
  const body = (await response.json().catch(() => ({}))) as { token?: string; detail?: string };
  if (!response.ok || !body.token) throw new Error(body.detail ?? `The local stack refused a token (${response.status}).`);
  const session = sessionFromToken(body.token, 'local');
  if (!session) throw new Error('The local stack gave a token without a role.');
  return session;
}
