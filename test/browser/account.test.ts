/**
 * A user's rights in the browser: a copy of everything stored about them,
 * and erasure after a confirmation (cancelling erases nothing); blocking a
 * business; binding a number and an address with a one-time code.
 */
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { api, bindPhone, hasText, launchBrowser, newPage, nextCode, pageErrors, sentCount, shows, signIn, tokenFor, uniqueSub } from './support';
import { SEED_POLICY } from './policy';

jest.setTimeout(120_000);

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(() => browser?.close());

interface Export {
  account: { phoneNumber: string | null; email: string | null; erasedAt: string | null };
  consentHistory: unknown[];
}

const exportOf = async (sub: string) => (await api<Export>('GET', '/v1/me/export', { token: await tokenFor('user', sub) })).json;

const nav = (page: Page, name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });

describe('your data', () => {
  it('exports everything as a file, and erases only after a confirmation', async () => {
    const sub = uniqueSub('dana');
    const token = await tokenFor('user', sub);
    const phone = await bindPhone(token, '+1 415 555 0143');
    const decided = await api('PUT', '/v1/me/consent', {
      token,
      body: { policyVersion: SEED_POLICY.version, purposes: { ads_targeting: 'granted', friend_suggestions: 'denied' }, source: 'notification' },
    });
    expect(decided.status).toBe(200);

    const { context, page } = await newPage(browser);
    await signIn(page, 'user', sub);
    // A key on this browser, which erasure removes too.
    await nav(page, 'Inbox').click();
    await page.getByRole('button', { name: 'Make a key for this browser' }).click();
    await shows(page.getByLabel('Public key'));

    await nav(page, 'Your data').click();
    await hasText(page.getByRole('heading', { level: 1 }), 'Your data');
    await shows(page.getByText(phone, { exact: true }));
    await page.getByRole('button', { name: 'Prepare a copy' }).click();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download my data (JSON)' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^my-data-\d{4}-\d{2}-\d{2}\.json$/);
    const copy = JSON.parse(readFileSync((await download.path())!, 'utf8')) as Export;
    expect(copy.account).toEqual(expect.objectContaining({ phoneNumber: phone, erasedAt: null }));
    expect(copy.consentHistory).toHaveLength(1);

    // Cancelling the confirmation erases nothing.
    await page.getByRole('button', { name: 'Erase my account…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Erase your account?' });
    await shows(dialog);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect((await exportOf(sub)).account.phoneNumber).toBe(phone);
    await page.getByRole('button', { name: 'Erase my account…' }).click();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await exportOf(sub)).account.phoneNumber).toBe(phone);

    // Confirmed: the number is gone, the receipts stay as proof, and this browser's keys go too.
    await page.getByRole('button', { name: 'Erase my account…' }).click();
    await dialog.getByRole('button', { name: 'Yes, erase everything' }).click();
    await hasText(page.getByRole('heading', { level: 1 }), 'Your account is erased');
    const after = await exportOf(sub);
    expect(after.account.phoneNumber).toBeNull();
    expect(after.account.erasedAt).not.toBeNull();
    expect(after.consentHistory).toHaveLength(1);
    const keysLeft = await page.evaluate(`new Promise((resolve) => {
      const request = indexedDB.open(${JSON.stringify(`consent-audiences:${sub}`)});
      request.onsuccess = () => {
        const read = request.result.transaction('message-keys', 'readonly').objectStore('message-keys').count();
        read.onsuccess = () => { request.result.close(); resolve(read.result); };
      };
    })`);
    expect(keysLeft).toBe(0);

    await page.getByRole('button', { name: 'Sign out' }).first().click();
    await hasText(page.getByRole('heading', { level: 1 }), 'Sign in');
    expect(await pageErrors(page)).toEqual([]);
    await context.close();
  });

  it('blocks and unblocks a business', async () => {
    const sub = uniqueSub('eve');
    const { context, page } = await newPage(browser);
    await signIn(page, 'user', sub);
    await nav(page, 'Blocked').click();
    await shows(page.getByText('You have not blocked any business.'));
    await page.getByLabel('Business id').fill('pushy-shop');
    await page.getByRole('button', { name: 'Block', exact: true }).click();
    await shows(page.getByText('pushy-shop', { exact: true }));
    const blocks = await api<{ items: { businessId: string }[] }>('GET', '/v1/me/blocks', { token: await tokenFor('user', sub) });
    expect(blocks.json.items.map((b) => b.businessId)).toEqual(['pushy-shop']);
    await page.getByRole('button', { name: 'Unblock pushy-shop' }).click();
    await shows(page.getByText('You have not blocked any business.'));
    expect((await api<{ items: unknown[] }>('GET', '/v1/me/blocks', { token: await tokenFor('user', sub) })).json.items).toEqual([]);
    await context.close();
  });

  it('binds a phone number and an email with one-time codes sent to them', async () => {
    const sub = uniqueSub('finn');
    const { context, page } = await newPage(browser);
    await signIn(page, 'user', sub);
    await nav(page, 'Your data').click();
    await hasText(page.getByRole('heading', { level: 1 }), 'Your data');
    for (const [label, value, expected] of [
      ['Phone number', '+1 (415) 555-0145', '+14155550145'],
      ['Email address', ' Finn@Example.com ', 'finn@example.com'],
    ] as const) {
      const card = page.locator('.card').filter({ has: page.getByRole('heading', { name: label, exact: true }) });
      const seen = await sentCount(expected);
      await card.getByLabel(label, { exact: true }).fill(value);
      await card.getByRole('button', { name: 'Send a code' }).click();
      await shows(card.getByLabel('Code'));
      await hasText(card.getByRole('status'), 'We sent a 6-digit code');
      const code = await nextCode(expected, seen);

      // A wrong code is refused and may be typed again; nothing is bound.
      const wrong = code.replace(/.$/, (digit) => String((Number(digit) + 1) % 10));
      await card.getByLabel('Code').fill(wrong);
      await card.getByRole('button', { name: 'Verify' }).click();
      await hasText(card.getByRole('alert'), /Wrong code.*4 tries left/);
      await card.getByLabel('Code').fill(code);
      await card.getByRole('button', { name: 'Verify' }).click();
      await hasText(card.getByRole('status'), `${label} verified.`);
      await shows(card.getByText(expected, { exact: true }));
    }
    expect((await exportOf(sub)).account).toEqual(expect.objectContaining({ phoneNumber: '+14155550145', email: 'finn@example.com' }));
    expect(await pageErrors(page)).toEqual([]);
    await context.close();
  });

  it('ends a verification after five wrong codes and asks for the number again, binding nothing', async () => {
    const sub = uniqueSub('gus');
    const { context, page } = await newPage(browser);
    await signIn(page, 'user', sub);
    await nav(page, 'Your data').click();
    const card = page.locator('.card').filter({ has: page.getByRole('heading', { name: 'Phone number', exact: true }) });
    const expected = '+14155550146';
    const seen = await sentCount(expected);
    await card.getByLabel('Phone number', { exact: true }).fill(expected);
    await card.getByRole('button', { name: 'Send a code' }).click();
    await shows(card.getByLabel('Code'));
    const code = await nextCode(expected, seen);
    const wrong = code.replace(/.$/, (digit) => String((Number(digit) + 1) % 10));
    // Four wrong codes: each refused with the tries left, the form still asking for the code.
    for (const left of [4, 3, 2, 1]) {
      await card.getByLabel('Code').fill(wrong);
      await card.getByRole('button', { name: 'Verify' }).click();
      await hasText(card.getByRole('alert'), new RegExp(`Wrong code.*${left} ${left === 1 ? 'try' : 'tries'} left`));
    }
    // The fifth ends the verification (410): the form says so and asks for the number again.
    await card.getByLabel('Code').fill(wrong);
    await card.getByRole('button', { name: 'Verify' }).click();
    await hasText(card.getByRole('alert'), /Verification gone/);
    await shows(card.getByLabel('Phone number', { exact: true }));
    expect(await card.getByLabel('Code').count()).toBe(0);
    // The right code is no use now: nothing was bound.
    expect((await exportOf(sub)).account).not.toEqual(expect.objectContaining({ phoneNumber: expected }));
    expect(await pageErrors(page)).toEqual([]);
    await context.close();
  });
});
