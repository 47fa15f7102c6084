/**
 * Every page of the web app at desktop and phone size: an axe-core scan
 * (WCAG 2.1 A and AA rules and best practices) finds nothing serious or
 * critical, nothing overflows the phone's width, and a screenshot is taken
 * (test-results/screenshots; the README's, under docs/screenshots, with
 * `npm run screenshots`).
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { readHashedCsv } from '../../cli/csv';
import { eventually } from '../integration/support';
import type { Browser, Page } from 'playwright-core';
import {
  api,
  bindPhone,
  hasText,
  launchBrowser,
  newPage,
  pageErrors,
  REPO_ROOT,
  screenshot,
  sendSealed,
  seriousViolations,
  shows,
  signIn,
  tokenFor,
  webUrl,
} from './support';
import { SEED_POLICY } from './policy';

jest.setTimeout(240_000);

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(() => browser?.close());

/** Waits for the page's heading and for every "Loading…" to go. */
async function ready(page: Page, heading: string): Promise<void> {
  await hasText(page.getByRole('heading', { level: 1 }), heading);
  await page.locator('.loading').first().waitFor({ state: 'detached', timeout: 15_000 });
}

/** Nothing wider than the viewport: a phone never scrolls sideways. */
async function overflow(page: Page): Promise<number> {
  return page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth') as Promise<number>;
}

/** The scan, the width, and a picture: the whole page, or what the screen shows when a dialog is open. */
async function check(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  const violations = await seriousViolations(page);
  expect({ page: name, violations }).toEqual({ page: name, violations: [] });
  expect({ page: name, overflow: await overflow(page) }).toEqual({ page: name, overflow: 0 });
  await screenshot(page, name, options);
}

const go = (page: Page, hash: string) => page.goto(`${webUrl()}/#/${hash}`);

// The seed story's people, with their plain names: these pictures go in the README.
const FRESH = 'ana';
const DECIDED = 'bob';
const SHOP = 'flower-shop';
let audienceId: string;
let bobsPhone: string;

beforeAll(async () => {
  const userToken = await tokenFor('user', DECIDED);
  bobsPhone = await bindPhone(userToken, '+1 415 555 0102');
  for (const [purposes, source] of [
    [{ ads_targeting: 'denied', friend_suggestions: 'granted' }, 'notification'],
    [{ friend_suggestions: 'denied' }, 'settings'],
  ] as const) {
    const answer = await api('PUT', '/v1/me/consent', { token: userToken, body: { policyVersion: SEED_POLICY.version, purposes, source } });
    expect(answer.status).toBe(200);
  }
  const created = await api<{ id: string }>('POST', '/v1/audiences', {
    token: await tokenFor('business', SHOP),
    body: { name: 'Flower shop mailing list', customerFileSource: 'USER_PROVIDED_ONLY' },
  });
  expect(created.status).toBe(201);
  audienceId = created.json.id;
  // The seed story's customer list, hashed as the CLI does, in one batch: the pictures show a counted size.
  const csv = await readHashedCsv(createReadStream(join(REPO_ROOT, 'examples', 'customers.csv')), { country: 'US' });
  const data: string[][] = [];
  for await (const row of csv.rows) data.push(row);
  const shopToken = await tokenFor('business', SHOP);
  const path = `/v1/audiences/${encodeURIComponent(audienceId)}`;
  const session = { id: 1, batchSeq: 1, lastBatch: true, estimatedTotal: data.length };
  const uploaded = await api('POST', `${path}/users`, { token: shopToken, body: { session, schema: csv.schema, data } });
  expect(uploaded.status).toBe(202);
  await eventually(
    async () => {
      const audience = await api<{ countedAt: string | null }>('GET', path, { token: shopToken });
      expect(audience.json.countedAt).not.toBeNull();
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
});

describe.each(['desktop', 'phone'] as const)('every page at %s size', (size) => {
  it('has no serious or critical accessibility violation, fits the screen, and is photographed', async () => {
    // Signed out.
    const { context, page } = await newPage(browser, size);
    await page.goto(webUrl());
    await ready(page, 'Sign in');
    await check(page, `sign-in-${size}`);

    // A user who has not decided yet sees the notification.
    await signIn(page, 'user', FRESH);
    await ready(page, "We're updating our privacy policy");
    await check(page, `notification-${size}`);
    await context.close();

    // A user who decided: the summary, settings, receipts, inbox, blocks, their data.
    const user = await newPage(browser, size);
    await signIn(user.page, 'user', DECIDED);
    await ready(user.page, 'Your privacy choices');
    await check(user.page, `choices-${size}`);
    await go(user.page, 'settings');
    await ready(user.page, 'Settings');
    await check(user.page, `settings-${size}`);
    await go(user.page, 'receipts');
    await ready(user.page, 'Your receipts');
    await check(user.page, `receipts-${size}`);
    await go(user.page, 'inbox');
    await ready(user.page, 'Inbox');
    await user.page.getByRole('button', { name: 'Make a key for this browser' }).click();
    await shows(user.page.getByLabel('Public key'));
    const publicKey = await user.page.getByLabel('Public key').inputValue();
    const shopToken = await tokenFor('business', SHOP);
    await sendSealed(shopToken, bobsPhone, publicKey, 'Order 1017: 12 red roses, $54. Thank you!');
    await user.page.reload();
    await ready(user.page, 'Inbox');
    await shows(user.page.locator('.plaintext'));
    await check(user.page, `inbox-${size}`);
    // Received, so the next size's inbox shows only its own.
    await user.page.getByRole('button', { name: 'Mark all opened as received' }).click();
    await shows(user.page.getByText('No messages waiting.'));
    await go(user.page, 'blocks');
    await ready(user.page, 'Blocked businesses');
    await check(user.page, `blocks-${size}`);
    await go(user.page, 'data');
    await ready(user.page, 'Your data');
    await check(user.page, `your-data-${size}`);
    await user.page.getByRole('button', { name: 'Erase my account…' }).click();
    await shows(user.page.getByRole('dialog', { name: 'Erase your account?' }));
    await check(user.page, `erase-${size}`, { fullPage: false });
    expect(await pageErrors(user.page)).toEqual([]);
    await user.context.close();

    // The shop: audiences, one audience with a list chosen, sending.
    const shop = await newPage(browser, size);
    await signIn(shop.page, 'business', SHOP);
    await ready(shop.page, 'Audiences');
    await check(shop.page, `audiences-${size}`);
    await go(shop.page, `audiences/${encodeURIComponent(audienceId)}`);
    await ready(shop.page, 'Flower shop mailing list');
    await shop.page.getByLabel('Customer list (CSV)').setInputFiles(join(REPO_ROOT, 'examples', 'customers.csv'));
    await shows(shop.page.getByText(/rows to upload in/));
    await check(shop.page, `audience-${size}`);
    await go(shop.page, 'send');
    await ready(shop.page, 'Send a message');
    await check(shop.page, `send-${size}`);
    expect(await pageErrors(shop.page)).toEqual([]);
    await shop.context.close();

    // The operator's policy page.
    const operator = await newPage(browser, size);
    await signIn(operator.page, 'operator', 'privacy-team');
    await ready(operator.page, 'Privacy policy');
    await check(operator.page, `policy-${size}`);
    await operator.context.close();
  });
});

describe('the accessibility check', () => {
  it('does find serious violations where there are some', async () => {
    const { context, page } = await newPage(browser);
    await page.setContent(
      '<html lang="en"><head><title>Check</title></head><body><main><p style="color:#bbb;background:#fff">Faint text</p><input type="text"></main></body></html>',
    );
    const ids = (await seriousViolations(page)).map((v) => v.id).sort();
    expect(ids).toEqual(['color-contrast', 'label']);
    await context.close();
  });
});
