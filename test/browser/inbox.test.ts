/**
 * The seed story's receipt, end to end: a user's browser makes a key pair
 * (its private key non-extractable, kept in IndexedDB) and publishes its
 * public key, the shop's `audiences` CLI looks that key up, seals a receipt
 * to it and sends it, and the user's inbox opens it in the browser. Marking it as received deletes the service's copy, and the shop
 * sees it delivered.
 */
import { spawnSync } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import {
  api,
  apiUrl,
  bindPhone,
  hasText,
  launchBrowser,
  newPage,
  pageErrors,
  REPO_ROOT,
  sendSealed,
  settle,
  shows,
  signIn,
  tokenFor,
  uniqueSub,
} from './support';

jest.setTimeout(120_000);

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(() => browser?.close());

/** What IndexedDB holds for this account's keys, read in the page: whether each private key is extractable, and whether exporting it fails. */
async function storedKeys(page: Page, sub: string): Promise<{ publicKey: string; extractable: boolean; exportRefused: boolean }[]> {
  return page.evaluate(`new Promise((resolve, reject) => {
    const request = indexedDB.open(${JSON.stringify(`consent-audiences:${sub}`)});
    request.onerror = () => reject(request.error);
    request.onsuccess = () => {
      const read = request.result.transaction('message-keys', 'readonly').objectStore('message-keys').getAll();
      read.onerror = () => reject(read.error);
      read.onsuccess = async () => {
        const keys = [];
        for (const record of read.result) {
          const privateKey = record.keyPair.privateKey;
          const exportRefused = await crypto.subtle.exportKey('pkcs8', privateKey).then(() => false, () => true);
          keys.push({ publicKey: record.publicKey, extractable: privateKey.extractable, exportRefused });
        }
        request.result.close();
        resolve(keys);
      };
    };
  })`);
}

/** The `audiences` command line, as a shop runs it against the local stack. */
function audiencesCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['cli/bin.cjs', ...args, '--url', apiUrl(), '--local-business', 'flower-shop', '--json'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the inbox', () => {
  it('opens a receipt sent with the CLI using the key this browser made and keeps', async () => {
    const sub = uniqueSub('bob');
    const phone = await bindPhone(await tokenFor('user', sub), '+1 415 555 0142');
    const { context, page } = await newPage(browser);
    await signIn(page, 'user', sub);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Inbox' }).click();
    await hasText(page.getByRole('heading', { level: 1 }), 'Inbox');
    await page.getByRole('button', { name: 'Make a key for this browser' }).click();
    await shows(page.getByLabel('Public key'));
    const publicKey = await page.getByLabel('Public key').inputValue();
    expect(publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await shows(page.getByText('No messages waiting.'));

    // The private key is a non-extractable CryptoKey in IndexedDB: the page can use it, no script can read it.
    expect(await storedKeys(page, sub)).toEqual([{ publicKey, extractable: false, exportRefused: true }]);

    // The shop sends the receipt with the CLI, which looks the user's published key up, seals the text to it and names its keyId.
    const text = 'Order 1017: 12 red roses, $54';
    const sent = audiencesCli(['messages', 'send', '--to', phone, '--category', 'receipt', '--text', text, '--client-message-id', `order-${sub}`]);
    expect(sent.status).toBe(0);
    const { messageId } = JSON.parse(sent.stdout) as { messageId: string };

    // After a reload the same key is still there, and it opens the message in the page.
    await page.reload();
    await hasText(page.getByRole('heading', { level: 1 }), 'Inbox');
    expect(await page.getByLabel('Public key').inputValue()).toBe(publicKey);
    const message = page.getByRole('article').filter({ hasText: 'from flower-shop' });
    await hasText(message.getByRole('heading'), 'Receipt from flower-shop');
    await hasText(message.locator('.plaintext'), 'Order 1017: 12 red roses, $54');

    // Received: the service deletes its copy and the shop sees the message delivered.
    await message.getByRole('button', { name: 'Mark as received' }).click();
    await hasText(page.getByRole('status').filter({ hasText: 'marked as received' }), '1 message marked as received');
    expect((await api<{ items: unknown[] }>('GET', '/v1/me/messages', { token: await tokenFor('user', sub) })).json.items).toEqual([]);
    await settle();
    const status = audiencesCli(['messages', 'status', messageId]);
    expect(status.status).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual(expect.objectContaining({ messageId, status: 'delivered' }));
    expect(await pageErrors(page)).toEqual([]);
    await context.close();
  });

  it('says which messages it cannot open, and why', async () => {
    const sub = uniqueSub('cleo');
    const token = await tokenFor('user', sub);
    const phone = await bindPhone(token, '+1 415 555 0144');
    const shop = await tokenFor('business', 'flower-shop');
    const { context, page } = await newPage(browser);
    await signIn(page, 'user', sub);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Inbox' }).click();
    await page.getByRole('button', { name: 'Make a key for this browser' }).click();
    await shows(page.getByLabel('Public key'));
    const publicKey = await page.getByLabel('Public key').inputValue();

    // Named as sealed to this browser's key but sealed to some other key: it does not open.
    const { generateKeyPair, publicKeyOf } = await import('../../client/keys');
    const other = await publicKeyOf(await generateKeyPair());
    await sendSealed(shop, phone, publicKey, 'not for this browser', other);
    // Sealed to a key the user published from another device: this browser does not hold it.
    const elsewhere = await publicKeyOf(await generateKeyPair());
    expect((await api('PUT', '/v1/me/keys', { token, body: { publicKey: elsewhere } })).status).toBe(200);
    await sendSealed(shop, phone, elsewhere, 'for the other device');

    await page.reload();
    const items = page.getByRole('article');
    await hasText(items.locator('.message.error'), [
      "This message cannot be opened with this browser's keys: it was altered, or not sealed to this browser's key.",
      "This message cannot be opened with this browser's keys: it was sealed to a key this browser does not hold (one published from another device).",
    ]);
    expect(await page.locator('.plaintext').count()).toBe(0);
    expect(await pageErrors(page)).toEqual([]);
    await context.close();
  });
});
