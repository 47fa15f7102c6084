/**
 * 7. The web app: what a first visit downloads, and how long the first page
 * takes to show, in Debian's Chromium against the local stack.
 *
 * - Sizes: a fresh build (web/build.cjs, esbuild), gzip level 9 of each file:
 *   what the first visit loads (the entry, the chunks it imports statically,
 *   the stylesheet), and the chunks pages load with them (the business
 *   console, the inbox's crypto, the OIDC client). Source maps are not
 *   counted (browsers fetch them only with developer tools open).
 * - First load: a fresh browser context each run (empty cache, no service
 *   worker), navigation to the page shown (User Timing mark the app sets when
 *   a page appears, measured from the navigation's start): the sign-in page,
 *   and a signed-in user's policy notification, which needs the
 *   configuration and two API calls (policy, consent) over CORS.
 * - Limit beside it, same runs: the same index.html with its scripts
 *   refused, to its load event: the cost of the document and the server.
 */
import { existsSync } from 'node:fs';
import type { BenchContext } from '../lib/context';
import type { Figure } from '../lib/report';
import { median } from '../lib/stats';
import { webOrigins } from '../lib/stack';

interface Manifest {
  readonly entry: string;
  readonly initial: string[];
  readonly files: Record<string, { bytes: number; gzipBytes: number }>;
}

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const kb = (bytes: number): number => Math.round(bytes / 102.4) / 10;

export async function webApp(ctx: BenchContext): Promise<{ figures: Figure[]; notes: string[]; details: unknown }> {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the build script is CommonJS, shared with `npm ci`
  const { buildWeb } = require('../../web/build.cjs') as { buildWeb(): Manifest };
  const manifest = buildWeb();
  const code = Object.entries(manifest.files).filter(([file]) => /\.(js|css)$/.test(file));
  const initial = code.filter(([file]) => manifest.initial.includes(file));
  const lazy = code.filter(([file]) => !manifest.initial.includes(file)).sort((a, b) => b[1].gzipBytes - a[1].gzipBytes);
  const sum = (files: typeof code, key: 'bytes' | 'gzipBytes') => files.reduce((n, [, f]) => n + f[key], 0);
  const initialGzip = sum(initial, 'gzipBytes');

  const stack = await ctx.stack();
  const { startWebServer } = await import('../../local/web');
  const web = await startWebServer({ port: 0, apiUrl: () => stack.url });
  webOrigins.push(...web.origins);

  // A current policy, so a new user sees the notification.
  const operator = await stack.token('operator', 'bench-web');
  const current = await stack.api('GET', '/v1/policies/current', { token: operator });
  if (current.status === 404) {
    const published = await stack.api('POST', '/v1/policies', {
      token: operator,
      body: {
        version: `bench-web-${Date.now()}`,
        purposes: ['ads_targeting', 'friend_suggestions'],
        summary: 'We will share your phone number with our parent company.',
      },
    });
    if (published.status !== 201) throw new Error(`publishing a policy answered ${published.status}`);
  }

  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  const signInMs: number[] = [];
  const notificationMs: number[] = [];
  const documentMs: number[] = [];
  try {
    const markOf = async (page: import('playwright-core').Page, name: string): Promise<number> => {
      // A function, not a string: the page's CSP refuses string evaluation inside it.
      await page.waitForFunction((mark) => performance.getEntriesByName(mark, 'mark').length > 0, name, { timeout: 30_000, polling: 10 });
      return (await page.evaluate(`performance.getEntriesByName(${JSON.stringify(name)}, 'mark')[0].startTime`)) as number;
    };
    for (let run = 0; run < ctx.runs; run++) {
      // The document alone: scripts refused.
      const bare = await browser.newContext();
      const barePage = await bare.newPage();
      await barePage.route('**/*.js', (route) => route.abort());
      await barePage.goto(web.url, { waitUntil: 'load' });
      documentMs.push((await barePage.evaluate(`performance.getEntriesByType('navigation')[0].loadEventEnd`)) as number);
      await bare.close();

      const signedOut = await browser.newContext();
      const page = await signedOut.newPage();
      await page.goto(web.url);
      signInMs.push(await markOf(page, 'page:Sign in'));
      await signedOut.close();

      // A signed-in user who has not decided yet: the session is in the tab's storage before the app starts.
      const sub = `bench-web-${run}-${Date.now().toString(36)}`;
      const token = await stack.token('user', sub);
      const session = { token, role: 'user', sub, expiresAt: Date.now() + 3_600_000, name: sub, via: 'local' };
      const signedIn = await browser.newContext();
      await signedIn.addInitScript(`sessionStorage.setItem('consent-audiences.session', ${JSON.stringify(JSON.stringify(session))})`);
      const userPage = await signedIn.newPage();
      await userPage.goto(web.url);
      notificationMs.push(await markOf(userPage, "page:We're updating our privacy policy"));
      await signedIn.close();
      ctx.log(
        `web run ${run + 1}: sign-in ${signInMs.at(-1)!.toFixed(0)} ms, notification ${notificationMs.at(-1)!.toFixed(0)} ms, document ${documentMs.at(-1)!.toFixed(0)} ms`,
      );
    }
  } finally {
    await browser.close();
    await web.close();
    webOrigins.length = 0;
  }

  const same = (value: number) => Array.from({ length: ctx.runs }, () => value);
  const figures: Figure[] = [
    {
      id: 'web-initial-gzip',
      label: 'web app, first visit download (JS + CSS, gzip)',
      unit: 'KB',
      runs: same(kb(initialGzip)),
      target: { kind: 'under', value: 60 },
      digits: 1,
    },
    {
      id: 'web-first-load-sign-in',
      label: 'web app, first load to the sign-in page',
      unit: 'ms',
      runs: signInMs,
      limit: { label: 'index.html alone, scripts refused', runs: documentMs },
      target: { kind: 'under', value: 1_000 },
    },
    {
      id: 'web-first-load-notification',
      label: "web app, first load to a user's policy notification (config + 2 API calls)",
      unit: 'ms',
      runs: notificationMs,
      limit: { label: 'index.html alone, scripts refused', runs: documentMs },
      target: { kind: 'under', value: 1_500 },
    },
  ];
  const list = (files: typeof code) => files.map(([file, f]) => `${file.replace(/^assets\//, '')} ${kb(f.gzipBytes)} KB`).join(', ');
  const notes = [
    `First visit: ${initial.length} files, ${kb(sum(initial, 'bytes'))} KB (${kb(initialGzip)} KB gzip): ${list(initial)}.`,
    `Loaded with their pages: ${list(lazy.slice(0, 4))}; all lazy chunks ${kb(sum(lazy, 'gzipBytes'))} KB gzip.`,
    `Chromium headless on loopback, a fresh context (empty cache) per run; medians: sign-in ${median(signInMs).toFixed(0)} ms, notification ${median(notificationMs).toFixed(0)} ms, the document alone ${median(documentMs).toFixed(0)} ms.`,
  ];
  return { figures, notes, details: { initial: Object.fromEntries(initial), lazy: Object.fromEntries(lazy), signInMs, notificationMs, documentMs } };
}
