/**
 * Browser tests: Debian's Chromium driven by playwright-core against the web
 * app and API that `npm start` serves (test/browser/global-setup.ts), an
 * axe-core scan helper, screenshots, and API calls to check what the pages
 * did. Chromium runs headless with the flags this machine needs (no sandbox
 * as root, no background networking) in a fresh profile Playwright makes.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import type { Role } from '../../catalog';
import { api as call, eventually, REPO_ROOT, type ApiOptions, type ApiResponse } from '../integration/support';

export { REPO_ROOT };

/** `CHROMIUM_PATH`, else Debian's package (`apt-get install -y chromium`). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;

export function apiUrl(): string {
  const url = process.env.BROWSER_API_URL;
  if (!url) throw new Error('BROWSER_API_URL is not set: run browser tests with `npx jest --selectProjects browser`');
  return url;
}

export function webUrl(): string {
  const url = process.env.BROWSER_WEB_URL;
  if (!url) throw new Error('BROWSER_WEB_URL is not set: run browser tests with `npx jest --selectProjects browser`');
  return url;
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** A fresh context (its own storage, IndexedDB included) at desktop or phone size. */
export async function newPage(browser: Browser, size: 'desktop' | 'phone' = 'desktop'): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext(
    size === 'phone' ? { viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 1 } : { viewport: DESKTOP, deviceScaleFactor: 1 },
  );
  return { context, page: await context.newPage() };
}

/** Script errors the page threw (none is expected). */
export const pageErrors = async (page: Page): Promise<string[]> => (await page.pageErrors()).map((error) => error.message);

/** Signs in with the local stack's picker as a person would. */
export async function signIn(page: Page, role: Role, sub: string): Promise<void> {
  await page.goto(webUrl());
  await page.getByRole('radio', { name: { user: /person using/i, business: /a business/i, operator: /operator/i }[role] }).check();
  await page.getByLabel('Account id').fill(sub);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

// ------------------------------------------------------------------ the API, to check what pages did

export const api = <T = unknown>(method: string, path: string, options: Omit<ApiOptions, 'baseUrl'> = {}): Promise<ApiResponse<T>> =>
  call<T>(method, path, { ...options, baseUrl: apiUrl() });

export async function tokenFor(role: Role, sub: string): Promise<string> {
  const response = await api<{ token: string }>('POST', '/_local/token', { body: { role, sub } });
  if (response.status !== 200) throw new Error(`POST /_local/token answered ${response.status}`);
  return response.json.token;
}

/** Waits until queues and streams are idle (`/_local/settle`). */
export async function settle(): Promise<void> {
  const response = await api('POST', '/_local/settle', { body: { timeoutSeconds: 60 } });
  if (response.status !== 200) throw new Error(`POST /_local/settle answered ${response.status}`);
}

/** Binds a phone number to a user as a person does: a one-time code, read here from the local stack's outbox. */
export async function bindPhone(token: string, phoneNumber: string): Promise<string> {
  const seen = await sentCount(phoneNumber);
  const started = await api<{ verificationId: string }>('POST', '/v1/me/phone/verification', { token, body: { phoneNumber } });
  if (started.status !== 202) throw new Error(`POST /v1/me/phone/verification answered ${started.status}`);
  const code = await nextCode(phoneNumber, seen);
  const bound = await api<{ phoneNumber: string }>('PUT', '/v1/me/phone', { token, body: { verificationId: started.json.verificationId, code } });
  if (bound.status !== 200) throw new Error(`PUT /v1/me/phone answered ${bound.status}`);
  return bound.json.phoneNumber;
}

/** What the local stack "sent" to a number or address (`GET /_local/outbox?to=...`), newest first. */
async function sent(to: string): Promise<{ code: string }[]> {
  const outbox = await api<{ items: { code: string }[] }>('GET', `/_local/outbox?to=${encodeURIComponent(to)}`);
  if (outbox.status !== 200) throw new Error(`GET /_local/outbox answered ${outbox.status}`);
  return outbox.json.items;
}

/** How many messages the local stack has "sent" to a number or address so far. */
export const sentCount = async (to: string): Promise<number> => (await sent(to)).length;

/** The code of the next message to a number or address: waits until more than `seen` were sent (codes go out through a queue). */
export async function nextCode(to: string, seen: number): Promise<string> {
  return eventually(
    async () => {
      const items = await sent(to);
      if (items.length <= seen) throw new Error('No new code sent there yet');
      return items[0]!.code;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

// ------------------------------------------------------------------ accessibility and screenshots

export interface AxeFinding {
  readonly id: string;
  readonly impact: string | null | undefined;
  readonly help: string;
  readonly targets: string[];
}

/** axe-core's findings on the page as it is now (WCAG 2.1 A and AA rules and best practices), serious and critical only. */
export async function seriousViolations(page: Page): Promise<AxeFinding[]> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
}

const SCREENSHOTS = join(REPO_ROOT, 'test-results', 'screenshots');
const DOCS_SCREENSHOTS = join(REPO_ROOT, 'docs', 'screenshots');

/**
 * Saves a full-page screenshot under test-results/screenshots, and under
 * docs/screenshots (the README's) when UPDATE_SCREENSHOTS=1
 * (`npm run screenshots`).
 */
export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const image = await page.screenshot({ fullPage: options.fullPage ?? true, animations: 'disabled', caret: 'hide' });
  writeFileSync(join(SCREENSHOTS, `${name}.png`), image);
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    mkdirSync(DOCS_SCREENSHOTS, { recursive: true });
    writeFileSync(join(DOCS_SCREENSHOTS, `${name}.png`), image);
  }
}

/** A unique account id for one test, so tests never share a user on the stack. */
export const uniqueSub = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

// ------------------------------------------------------------------ waiting for what a person would see

/** Waits until the element is visible (what a person would wait for). */
export async function shows(locator: Locator, timeoutMs = 15_000): Promise<void> {
  await locator.first().waitFor({ state: 'visible', timeout: timeoutMs });
}

/** Waits until the elements' texts are exactly these (or, for a string, the first one contains it). */
export async function hasText(locator: Locator, expected: string | RegExp | readonly string[], timeoutMs = 15_000): Promise<void> {
  await eventually(
    async () => {
      if (typeof expected === 'string' || expected instanceof RegExp) {
        await locator.first().waitFor({ state: 'attached', timeout: 1_000 });
        const text = (await locator.first().innerText()).trim();
        if (typeof expected === 'string') expect(text).toContain(expected);
        else expect(text).toMatch(expected);
      } else {
        expect((await locator.allInnerTexts()).map((t) => t.trim())).toEqual(expected);
      }
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** Waits until there are exactly `count` such elements. */
export async function hasCount(locator: Locator, count: number, timeoutMs = 15_000): Promise<void> {
  await eventually(async () => expect(await locator.count()).toBe(count), { timeoutMs, intervalMs: 100 });
}

/**
 * A shop's message to a user, sealed here with the client library: the shop
 * looks the recipient's key up as the contract says, checks it is the one the
 * user's browser shows, and names its keyId. `sealTo` seals to another key
 * instead (a message the browser cannot open).
 */
export async function sendSealed(shopToken: string, to: string, publicKey: string, text: string, sealTo: string = publicKey): Promise<{ messageId: string }> {
  const { seal } = await import('../../client/hpke');
  const key = await api<{ keyId: string; publicKey: string }>('GET', `/v1/recipients/${encodeURIComponent(to)}/key`, { token: shopToken });
  if (key.status !== 200 || key.json.publicKey !== publicKey) throw new Error(`GET /v1/recipients/{phoneNumber}/key answered ${key.status} with another key`);
  const sent = await api<{ messageId: string }>('POST', '/v1/messages', {
    token: shopToken,
    body: { to, category: 'receipt', keyId: key.json.keyId, ciphertext: await seal(sealTo, { text }) },
  });
  if (sent.status !== 202) throw new Error(`POST /v1/messages answered ${sent.status}`);
  return sent.json;
}
