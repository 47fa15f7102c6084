/**
 * The app's frame: who is signed in, the navigation for their role, and the
 * page the URL's fragment names. The business console and the inbox load
 * with their pages (they carry the CSV parser, the phone-number rules and
 * the message crypto), so a person reading the policy notification never
 * downloads them.
 */
import type { ComponentChildren } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { apiClient } from './api';
import type { WebConfig } from './config';
import { Blocks, YourData } from './pages/account';
import { Home, Receipts, Settings } from './pages/consent';
import { Policy } from './pages/operator';
import { SignIn } from './pages/sign-in';
import { href, useRoute } from './router';
import { clearSession, saveSession, type Role, type Session } from './session';
import { AppContext, ErrorMessage, Loading, Page, useAsync, type App as AppValue } from './ui';

const loadBusiness = () => import('./pages/business');
const loadInbox = () => import('./pages/inbox');

function Lazy<M>(props: { load: () => Promise<M>; what: string; children: (module: M) => ComponentChildren }) {
  const module = useAsync(props.load, [props.load]);
  if (module.value) return <>{props.children(module.value)}</>;
  if (module.error) return <ErrorMessage error={module.error} />;
  return <Loading what={props.what} />;
}

const NAV: Record<Role, { path: string[]; label: string }[]> = {
  user: [
    { path: [], label: 'Your choices' },
    { path: ['settings'], label: 'Settings' },
    { path: ['receipts'], label: 'Receipts' },
    { path: ['inbox'], label: 'Inbox' },
    { path: ['blocks'], label: 'Blocked' },
    { path: ['data'], label: 'Your data' },
  ],
  business: [
    { path: ['audiences'], label: 'Audiences' },
    { path: ['send'], label: 'Send a message' },
  ],
  operator: [{ path: ['policy'], label: 'Privacy policy' }],
};

const HOME: Record<Role, string[]> = { user: [], business: ['audiences'], operator: ['policy'] };

function NotFound() {
  return (
    <Page title="Page not found">
      <p>
        There is no such page for your account. <a href="#/">Go to the start</a>.
      </p>
    </Page>
  );
}

function Route(props: { role: Role; route: string[] }) {
  const [first = '', second] = props.route.length === 0 ? HOME[props.role] : props.route;
  if (props.role === 'user') {
    if (first === '') return <Home />;
    if (first === 'settings') return <Settings />;
    if (first === 'receipts') return <Receipts />;
    if (first === 'blocks') return <Blocks />;
    if (first === 'data') return <YourData />;
    if (first === 'inbox')
      return (
        <Lazy load={loadInbox} what="the inbox">
          {(m) => <m.Inbox />}
        </Lazy>
      );
  }
  if (props.role === 'business') {
    if (first === 'audiences' && second)
      return (
        <Lazy load={loadBusiness} what="the audience">
          {(m) => <m.AudienceDetail id={second} />}
        </Lazy>
      );
    if (first === 'audiences')
      return (
        <Lazy load={loadBusiness} what="audiences">
          {(m) => <m.Audiences />}
        </Lazy>
      );
    if (first === 'send')
      return (
        <Lazy load={loadBusiness} what="the message form">
          {(m) => <m.Send />}
        </Lazy>
      );
  }
  if (props.role === 'operator' && first === 'policy') return <Policy />;
  return <NotFound />;
}

const ROLE_NAMES: Record<Role, string> = { user: 'user', business: 'business', operator: 'operator' };

export function App(props: { config: WebConfig; session?: Session; notice?: string }) {
  const [session, setSession] = useState(props.session);
  const [notice, setNotice] = useState(props.notice);
  const { route, visit } = useRoute();

  const app = useMemo((): AppValue | undefined => {
    if (!session) return undefined;
    const signOut = (why?: string) => {
      clearSession();
      setSession(undefined);
      setNotice(why);
      if (session.via === 'oidc' && props.config.signIn.kind === 'oidc') {
        const config = props.config.signIn;
        void import('./oidc').then((m) => m.signOut(config));
      }
    };
    const api = apiClient(props.config.apiUrl, session.token, () => signOut('Your session ended. Please sign in again.'));
    return { config: props.config, session, api, signOut: () => signOut() };
  }, [session, props.config]);

  const current = route.length === 0 && session ? HOME[session.role] : route;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <div class="bar">
          <a class="brand" href="#/">
            Privacy choices
          </a>
          {session && (
            <div class="who">
              <span>
                {session.name} <span class="role">({ROLE_NAMES[session.role]})</span>
              </span>
              <button type="button" class="link" onClick={() => app?.signOut()}>
                Sign out
              </button>
            </div>
          )}
        </div>
        {session && (
          <nav aria-label="Main">
            <ul>
              {NAV[session.role].map((item) => {
                const active = item.path.join('/') === current.slice(0, item.path.length || 1).join('/') && (item.path.length > 0 || current.length === 0);
                return (
                  <li key={item.label}>
                    <a href={href(...item.path)} aria-current={active ? 'page' : undefined}>
                      {item.label}
                    </a>
                  </li>
                );
              })}
            </ul>
          </nav>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {app && session ? (
          <AppContext.Provider value={app}>
            <Route key={visit} role={session.role} route={route} />
          </AppContext.Provider>
        ) : (
          <SignIn
            config={props.config}
            {...(notice ? { notice } : {})}
            onSignedIn={(signedIn) => {
              saveSession(signedIn);
              setNotice(undefined);
              setSession(signedIn);
            }}
          />
        )}
      </main>
    </>
  );
}
