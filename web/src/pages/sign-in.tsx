/**
 * Signing in. Locally: choose who you are, and the local stack's development
 * issuer makes a token (no password: it is your own machine). Deployed: the
 * Cognito hosted UI, with the authorization code flow and PKCE.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { WebConfig } from '../config';
import { signInLocal, type Role, type Session } from '../session';
import { ErrorMessage } from '../ui';

const ROLE_TEXT: Record<Role, string> = {
  user: 'A person using the messaging app',
  business: 'A business',
  operator: 'An operator of the service',
};

const SUGGESTIONS: Record<Role, string[]> = { user: ['ana', 'bob'], business: ['flower-shop'], operator: ['privacy-team'] };

export function SignIn(props: { config: WebConfig; notice?: string; onSignedIn(session: Session): void }) {
  const [role, setRole] = useState<Role>('user');
  const [sub, setSub] = useState('ana');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = 'Sign in · Privacy choices';
    heading.current?.focus();
    performance.mark('page:Sign in');
  }, []);

  async function local(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      props.onSignedIn(await signInLocal(props.config.apiUrl, role, sub.trim()));
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  }

  async function hosted() {
    setBusy(true);
    setError(undefined);
    try {
      const config = props.config.signIn;
      if (config.kind !== 'oidc') return;
      const { startSignIn } = await import('../oidc');
      await startSignIn(config);
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="page-title" class="sign-in">
      <h1 id="page-title" tabIndex={-1} ref={heading}>
        Sign in
      </h1>
      {props.notice && (
        <p class="message note" role="status">
          {props.notice}
        </p>
      )}
      {props.config.signIn.kind === 'oidc' ? (
        <>
          <p>Sign in with your account to see your privacy choices, your messages or your business's audiences.</p>
          <ErrorMessage error={error} />
          <button type="button" class="primary" disabled={busy} onClick={hosted}>
            Sign in
          </button>
        </>
      ) : (
        <form class="stack" onSubmit={local}>
          <p>This is the local stack: pick who you are, and its development issuer signs a token for you.</p>
          <fieldset>
            <legend>You are</legend>
            {(Object.keys(ROLE_TEXT) as Role[]).map((value) => (
              <label class="option" key={value} for={`role-${value}`}>
                <input
                  type="radio"
                  id={`role-${value}`}
                  name="role"
                  value={value}
                  checked={role === value}
                  onChange={() => {
                    setRole(value);
                    setSub(SUGGESTIONS[value][0] ?? '');
                  }}
                />
                <span>{ROLE_TEXT[value]}</span>
              </label>
            ))}
          </fieldset>
          <label for="sign-in-sub">Account id</label>
          <input
            id="sign-in-sub"
            required
            maxLength={128}
            list="sign-in-suggestions"
            autocomplete="username"
            value={sub}
            onInput={(e) => setSub(e.currentTarget.value)}
          />
          <datalist id="sign-in-suggestions">
            {SUGGESTIONS[role].map((s) => (
              <option key={s} value={s} />
            ))}
          </datalist>
          <ErrorMessage error={error} />
          <button type="submit" class="primary" disabled={busy}>
            Sign in
          </button>
        </form>
      )}
    </section>
  );
}
