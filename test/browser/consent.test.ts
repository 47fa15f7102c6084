/**
 * The seed story's user, in a real browser: she reads the policy
 * notification (what changes, what is shared with whom, two purposes, two
 * choices of equal weight each, nothing chosen for her), declines ads and
 * allows friend suggestions, and the API holds the receipt. Later she
 * withdraws friend suggestions in Settings in exactly as many steps as
 * allowing them takes there.
 */
import type { Browser, Locator, Page } from 'playwright-core';
import { api, hasCount, hasText, launchBrowser, newPage, pageErrors, shows, signIn, tokenFor, uniqueSub } from './support';
import { SEED_POLICY } from './policy';

jest.setTimeout(120_000);

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(() => browser?.close());

interface Receipt {
  receiptId: string;
  version: number;
  policyVersion: string;
  purposes: { ads_targeting: string; friend_suggestions: string };
  source: string;
}

async function history(sub: string): Promise<Receipt[]> {
  const response = await api<{ items: Receipt[] }>('GET', '/v1/me/consent/history', { token: await tokenFor('user', sub) });
  expect(response.status).toBe(200);
  return response.json.items;
}

/** The styles that make a choice look heavier than another. */
async function weight(option: Locator) {
  await option.page().mouse.move(0, 0); // no hover style on either
  return option.evaluate((element) => {
    const style = element.ownerDocument.defaultView!.getComputedStyle(element);
    const box = element.getBoundingClientRect();
    return {
      width: Math.round(box.width),
      height: Math.round(box.height),
      fontSize: style.fontSize,
      fontWeight: style.fontWeight,
      color: style.color,
      background: style.backgroundColor,
      border: `${style.borderTopWidth} ${style.borderTopStyle} ${style.borderTopColor}`,
    };
  });
}

/** Counts what the user does: each click is one step. */
class Steps {
  count = 0;
  async click(target: Locator): Promise<void> {
    this.count += 1;
    await target.click();
  }
}

const purposeCard = (page: Page, title: string) => page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: title, exact: true }) });

describe('the policy notification and settings', () => {
  it('records a decision from the notification, then withdraws and grants in settings in the same number of steps', async () => {
    const sub = uniqueSub('ana');
    const { context, page } = await newPage(browser);
    await signIn(page, 'user', sub);

    // The notification: what changes, what is shared with whom, for which purposes.
    await hasText(page.getByRole('heading', { level: 1 }), "We're updating our privacy policy");
    await shows(page.getByText(SEED_POLICY.summary));
    await shows(page.getByRole('heading', { name: 'What is shared, and with whom' }));
    await shows(page.getByText("Your account's phone number."));
    await shows(page.getByText('Our parent company, and no one else.'));
    const ads = page.getByRole('group', { name: 'Ads' });
    const friends = page.getByRole('group', { name: 'Friend suggestions' });
    await shows(ads);
    await shows(friends);

    // Nothing is chosen in advance, and the two choices weigh the same.
    for (const radio of await page.getByRole('radio').all()) expect(await radio.isChecked()).toBe(false);
    for (const group of [ads, friends]) {
      const allow = group.locator('label.choice').filter({ hasText: /^Allow$/ });
      const deny = group.locator('label.choice').filter({ hasText: "Don't allow" });
      expect(await weight(allow)).toEqual(await weight(deny));
    }

    // Saving without choosing asks for a choice and records nothing.
    await page.getByRole('button', { name: 'Save my choices' }).click();
    await hasCount(page.getByText("Choose Allow or Don't allow."), 2);
    expect(await history(sub)).toEqual([]);

    // Decline ads, allow friend suggestions.
    await ads.getByRole('radio', { name: "Don't allow" }).check();
    await friends.getByRole('radio', { name: 'Allow', exact: true }).check();
    await page.getByRole('button', { name: 'Save my choices' }).click();
    await hasText(page.getByRole('heading', { level: 1 }), 'Your choices are saved');
    await shows(page.getByRole('heading', { name: 'Receipt 1' }));

    const [first] = await history(sub);
    expect(first).toEqual(
      expect.objectContaining({
        version: 1,
        policyVersion: SEED_POLICY.version,
        source: 'notification',
        purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' },
      }),
    );
    await shows(page.getByText(first!.receiptId));

    // Later, from the start page: withdraw friend suggestions in Settings.
    await page.goto(`${page.url().split('#')[0]}#/`);
    await hasText(page.getByRole('heading', { level: 1 }), 'Your privacy choices');
    const withdraw = new Steps();
    await withdraw.click(page.getByRole('link', { name: 'Settings', exact: true }));
    await withdraw.click(purposeCard(page, 'Friend suggestions').getByRole('button', { name: 'Withdraw' }));
    await hasText(page.getByRole('status').filter({ hasText: 'Receipt 2' }), 'Friend suggestions: not allowed');
    expect((await history(sub))[0]).toEqual(
      expect.objectContaining({ version: 2, source: 'settings', purposes: { ads_targeting: 'denied', friend_suggestions: 'denied' } }),
    );

    // Allowing them again, from the same start, takes the same steps with a button that looks the same.
    await page.goto(`${page.url().split('#')[0]}#/`);
    await hasText(page.getByRole('heading', { level: 1 }), 'Your privacy choices');
    const grant = new Steps();
    await grant.click(page.getByRole('link', { name: 'Settings', exact: true }));
    await grant.click(purposeCard(page, 'Friend suggestions').getByRole('button', { name: 'Allow' }));
    await hasText(page.getByRole('status').filter({ hasText: 'Receipt 3' }), 'Friend suggestions: allowed');
    expect(grant.count).toBe(withdraw.count);
    expect(withdraw.count).toBe(2);
    expect((await history(sub))[0]).toEqual(
      expect.objectContaining({ version: 3, source: 'settings', purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' } }),
    );

    // Withdrawing and allowing are the same control, side by side: the same size, type and colours.
    const withdrawButton = purposeCard(page, 'Friend suggestions').getByRole('button', { name: 'Withdraw' });
    const allowButton = purposeCard(page, 'Ads').getByRole('button', { name: 'Allow' });
    expect(await weight(withdrawButton)).toEqual(await weight(allowButton));

    // The receipts page lists all three, newest first.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Receipts' }).click();
    await hasText(page.getByRole('heading', { level: 2, name: /^Receipt \d$/ }), ['Receipt 3', 'Receipt 2', 'Receipt 1']);
    // Where the service chains its receipts (each names the hash of the one before), the page checks the chain.
    if ((await history(sub)).every((r) => 'hash' in r)) await shows(page.getByText('Each receipt names the one before it: none is missing or altered.'));
    expect(await pageErrors(page)).toEqual([]);
    await context.close();
  });

  it('can be answered with the keyboard alone', async () => {
    const sub = uniqueSub('kim');
    const { context, page } = await newPage(browser);
    await signIn(page, 'user', sub);
    await hasText(page.getByRole('heading', { level: 1 }), "We're updating our privacy policy");

    // Tab to the first purpose's first choice, arrows within a group, Tab to the next group, Enter to submit.
    const ads = page.getByRole('group', { name: 'Ads' });
    await ads.getByRole('radio', { name: 'Allow', exact: true }).focus();
    await page.keyboard.press('ArrowRight');
    expect(await ads.getByRole('radio', { name: "Don't allow" }).isChecked()).toBe(true);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    expect(await page.getByRole('group', { name: 'Friend suggestions' }).getByRole('radio', { name: 'Allow', exact: true }).isChecked()).toBe(true);
    await page.keyboard.press('Enter');
    await hasText(page.getByRole('heading', { level: 1 }), 'Your choices are saved');
    expect((await history(sub))[0]).toEqual(
      expect.objectContaining({ source: 'notification', purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' } }),
    );
    await context.close();
  });
});
