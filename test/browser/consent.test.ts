/**
 * The seed story's user, in a real browser: she reads the policy
 * notification (what changes, what is shared with whom, two purposes, two
 * choices of equal weight each, nothing chosen for her), declines ads and
 * allows friend suggestions, and the API holds the receipt. Later she
 * withdraws friend suggestions in Settings in exactly as many steps as
 * allowing them takes there, and the receipts page checks their chain in the
 * browser. A browser that sends Global Privacy Control sees it honoured.
 */
import type { Browser, Locator, Page } from 'playwright-core';
import { api, hasCount, hasText, launchBrowser, newPage, pageErrors, settle, shows, signIn, tokenFor, uniqueSub } from './support';
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
  hash: string;
  prevHash: string | null;
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
    // The page checks the chain itself, with the client library, against the service's published keys.
    await hasText(
      page.getByRole('note').filter({ hasText: 'Checked in this browser' }),
      'Checked in this browser: all 3 receipts are signed by the service, and each names the one before it: none is missing or altered.',
    );
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

  it('finds a receipt altered on its way to the page', async () => {
    const sub = uniqueSub('lea');
    const token = await tokenFor('user', sub);
    for (const purposes of [{ ads_targeting: 'denied', friend_suggestions: 'granted' }, { friend_suggestions: 'denied' }]) {
      const answer = await api('PUT', '/v1/me/consent', { token, body: { policyVersion: SEED_POLICY.version, purposes, source: 'settings' } });
      expect(answer.status).toBe(200);
    }
    const { context, page } = await newPage(browser);
    // The older receipt is made to say that friend suggestions were never allowed.
    await page.route('**/v1/me/consent/history', async (route) => {
      const response = await route.fetch();
      const body = (await response.json()) as { items: Receipt[] };
      body.items[1]!.purposes.friend_suggestions = 'denied';
      await route.fulfill({ response, json: body });
    });
    await signIn(page, 'user', sub);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Receipts' }).click();
    await hasText(page.getByRole('alert'), /^These receipts do not check out: receipt 1: /);
    expect(await page.getByText('Checked in this browser').count()).toBe(0);
    await context.close();
  });
});

describe('Global Privacy Control', () => {
  it('is honoured: ads are turned off, the page says so, and allowing them is refused with a clear message', async () => {
    const sub = uniqueSub('gus');
    const token = await tokenFor('user', sub);
    const granted = await api('PUT', '/v1/me/consent', {
      token,
      body: { policyVersion: SEED_POLICY.version, purposes: { ads_targeting: 'granted', friend_suggestions: 'denied' }, source: 'notification' },
    });
    expect(granted.status).toBe(200);

    // A browser with the signal on: it sends Sec-GPC: 1 with every request and says so to scripts.
    const { context, page } = await newPage(browser);
    await context.setExtraHTTPHeaders({ 'Sec-GPC': '1' });
    await context.addInitScript("Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true })");
    await signIn(page, 'user', sub);
    await hasText(page.getByRole('heading', { level: 1 }), 'Your privacy choices');
    await settle();

    // The service recorded the signal as a denial of ads, once.
    const [newest, ...older] = await history(sub);
    expect(newest).toEqual(expect.objectContaining({ version: 2, source: 'gpc', purposes: { ads_targeting: 'denied', friend_suggestions: 'denied' } }));
    expect(older.map((r) => r.source)).toEqual(['notification']);

    // Settings shows ads off and that the signal is honoured.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    const ads = purposeCard(page, 'Ads');
    await hasText(ads.locator('.state'), 'Not allowed');
    await hasText(ads.getByRole('note'), 'Your browser sends Global Privacy Control, and the service honours it');

    // Allowing ads is refused (409 gpc-conflict), said plainly; nothing is recorded.
    await ads.getByRole('button', { name: 'Allow' }).click();
    await hasText(page.getByRole('alert'), /^Ads were not allowed: your browser sends Global Privacy Control/);
    await hasText(ads.locator('.state'), 'Not allowed');
    expect((await history(sub)).map((r) => r.version)).toEqual([2, 1]);

    // Friend suggestions are not what the signal is about: allowing them works.
    await purposeCard(page, 'Friend suggestions').getByRole('button', { name: 'Allow' }).click();
    await hasText(page.getByRole('status').filter({ hasText: 'Receipt 3' }), 'Friend suggestions: allowed');

    // The receipts say where the denial came from.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Receipts' }).click();
    const gpcReceipt = page.getByRole('article').filter({ has: page.getByRole('heading', { name: 'Receipt 2' }) });
    await hasText(gpcReceipt.locator('dd').nth(1), "your browser's Global Privacy Control");
    await shows(page.getByText('Checked in this browser: all 3 receipts are signed by the service'));
    expect(await pageErrors(page)).toEqual([]);
    await context.close();
  });
});
