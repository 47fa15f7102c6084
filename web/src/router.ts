/**
 * Pages are addressed by the URL's fragment (`#/settings`, `#/audiences/aud-1`),
 * so the static host needs no rewrite rules and the sign-in redirect's query
 * string never meets a page's address.
 */
import { useEffect, useState } from 'preact/hooks';

const current = (): string[] =>
  location.hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((part) => part !== '')
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    });

/** The current page's path segments, and how many times the address changed (a page is drawn afresh each time). */
export function useRoute(): { route: string[]; visit: number } {
  const [state, setState] = useState(() => ({ route: current(), visit: 0 }));
  useEffect(() => {
    const changed = () => setState((previous) => ({ route: current(), visit: previous.visit + 1 }));
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return state;
}

/** The href of a page: `href('audiences', id)` → `#/audiences/<id>`. */
export const href = (...parts: string[]): string => `#/${parts.map(encodeURIComponent).join('/')}`;

export function navigate(...parts: string[]): void {
  location.hash = href(...parts).slice(1);
}
