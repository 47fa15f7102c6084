/** Starts the app: its configuration, a session left in this tab or brought back by the sign-in redirect, then the frame. */
import { render } from 'preact';
import './app.css';
import { App } from './app';
import { loadConfig, type WebConfig } from './config';
import { loadSession, saveSession, type Session } from './session';

async function boot(root: HTMLElement): Promise<void> {
  let config: WebConfig;
  try {
    config = await loadConfig();
  } catch (error) {
    render(
      <main class="boot-error">
        <h1>The app cannot start</h1>
        <p role="alert">{error instanceof Error ? error.message : 'Its configuration could not be read.'}</p>
      </main>,
      root,
    );
    return;
  }
  let session: Session | undefined = loadSession();
  let notice: string | undefined;
  if (config.signIn.kind === 'oidc') {
    try {
      const { completeSignIn } = await import('./oidc');
      const signedIn = await completeSignIn(config.signIn);
      if (signedIn) {
        saveSession(signedIn);
        session = signedIn;
      }
    } catch (error) {
      notice = error instanceof Error ? error.message : 'Signing in did not work. Please try again.';
    }
  }
  root.replaceChildren();
  render(<App config={config} {...(session ? { session } : {})} {...(notice ? { notice } : {})} />, root);
}

const root = document.getElementById('app');
if (root) void boot(root);
