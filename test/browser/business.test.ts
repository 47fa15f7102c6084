/**
 * The seed story's flower shop in the business console: it creates an
 * audience, uploads examples/customers.csv (hashed in the browser, in
 * batches), the upload stops half-way and resumes after a reload without
 * sending an acknowledged batch again, and the shop sees the session finish
 * and the audience's size as a range with when it was counted. Then it
 * seals a message to a user's published key, and seals again to the new key
 * when the user replaced theirs in between.
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Request } from 'playwright-core';
import { readHashedCsv } from '../../cli/csv';
import { api, bindPhone, hasText, launchBrowser, newPage, pageErrors, REPO_ROOT, settle, shows, signIn, tokenFor, uniqueSub } from './support';

jest.setTimeout(180_000);

const CUSTOMERS = join(REPO_ROOT, 'examples', 'customers.csv');

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(() => browser?.close());

interface Upload {
  session: { id: number; batchSeq: number; lastBatch: boolean; estimatedTotal: number };
  schema: string[];
  data: string[][];
}

/** The rows the CLI would send for the same file: the same normalisation and hashing convention. */
async function cliRows(): Promise<string[]> {
  const csv = await readHashedCsv(createReadStream(CUSTOMERS), { country: 'US' });
  const rows: string[] = [];
  for await (const row of csv.rows) rows.push(JSON.stringify(row));
  return rows.sort();
}

describe('the business console', () => {
  it('uploads a customer list hashed in the browser, resumes it after a reload, and shows the session finish and the range', async () => {
    const shop = uniqueSub('flower-shop');
    const { context, page } = await newPage(browser);
    const uploads: Upload[] = [];
    page.on('request', (request: Request) => {
      if (request.method() === 'POST' && /\/v1\/audiences\/[^/]+\/users$/.test(request.url())) uploads.push(request.postDataJSON() as Upload);
    });
    await signIn(page, 'business', shop);
    await hasText(page.getByRole('heading', { level: 1 }), 'Audiences');
    await shows(page.getByText('No audiences yet.'));

    await page.getByLabel('Name').fill('Flower shop mailing list');
    await page.getByRole('button', { name: 'Create audience' }).click();
    await hasText(page.getByRole('heading', { level: 1 }), 'Flower shop mailing list');
    const audienceId = decodeURIComponent(page.url().split('#/audiences/')[1] ?? '');
    expect(audienceId).not.toBe('');

    // The file: its columns found by their headers, one row without a usable number or address, batches of 4 rows.
    await page.getByLabel('Customer list (CSV)').setInputFiles(CUSTOMERS);
    await shows(page.getByText('customers.csv: 12 rows.'));
    expect(await page.getByLabel('Phone number column').inputValue()).toBe('2');
    expect(await page.getByLabel('Email column').inputValue()).toBe('3');
    expect(await page.getByLabel('Country column (optional)').inputValue()).toBe('4');
    await page.getByText('Batches', { exact: true }).click();
    await page.getByLabel('Rows per batch').fill('4');
    await shows(page.getByText('11 rows to upload in 3 batches; 1 skipped (no valid phone number or email) on line 13.'));

    // The second batch never gets an answer: the tab is reloaded while it hangs.
    await page.route('**/v1/audiences/*/users', async (route) => {
      if ((route.request().postDataJSON() as Upload).session.batchSeq === 2) return; // left hanging
      await route.continue();
    });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await shows(page.getByText(/Uploaded 1 of 3 batches/));
    // Reloaded while the route still holds batch 2, so it can never be answered before the tab goes; then the network is back.
    await page.reload();
    await page.unrouteAll({ behavior: 'ignoreErrors' });

    // After the reload: the same file again, and the session goes on from batch 2.
    await hasText(page.getByRole('heading', { level: 1 }), 'Flower shop mailing list');
    await page.getByLabel('Customer list (CSV)').setInputFiles(CUSTOMERS);
    await shows(page.getByText('An upload of this file stopped after batch 1 of 3.'));
    expect(await page.getByLabel('Rows per batch').inputValue()).toBe('4');
    await page.getByRole('button', { name: 'Resume upload' }).click();
    await hasText(page.getByRole('status').filter({ hasText: 'finished' }), /Session \d+ finished: 11 rows received, 0 invalid\./, 60_000);
    await hasText(page.getByRole('region', { name: 'Size' }).locator('dd').first(), 'fewer than 100 people');

    // One session; batch 1 sent once, batch 2 again after the reload (it was never acknowledged), batch 3 last.
    const sessionIds = new Set(uploads.map((u) => u.session.id));
    expect(sessionIds.size).toBe(1);
    expect(uploads.map((u) => u.session.batchSeq)).toEqual([1, 2, 2, 3]);
    expect(uploads.map((u) => u.session.lastBatch)).toEqual([false, false, false, true]);
    expect(uploads.every((u) => u.session.estimatedTotal === 12 && u.schema.join() === 'PHONE_SHA256,EMAIL_SHA256')).toBe(true);

    // Only hashes left the browser, and they are the CLI's for the same file.
    const cells = uploads.flatMap((u) => u.data.flat());
    expect(cells.every((cell) => /^([0-9a-f]{64})?$/.test(cell))).toBe(true);
    const sent = [1, 2, 3].flatMap((seq) => uploads.find((u) => u.session.batchSeq === seq)!.data.map((row) => JSON.stringify(row)));
    expect(sent.sort()).toEqual(await cliRows());

    const token = await tokenFor('business', shop);
    const [sessionId] = [...sessionIds];
    const session = await api('GET', `/v1/audiences/${encodeURIComponent(audienceId)}/sessions/${sessionId}`, { token });
    expect(session.json).toEqual(expect.objectContaining({ stage: 'done', batchesReceived: 3, numReceived: 11, numInvalid: 0 }));
    const audience = await api<{ approximateCount: { lower: number; upper: number }; targetable: boolean; countedAt: string; nextCountAt: string }>(
      'GET',
      `/v1/audiences/${encodeURIComponent(audienceId)}`,
      { token },
    );
    expect(audience.json).toEqual(expect.objectContaining({ approximateCount: { lower: 0, upper: 100 }, targetable: false }));
    // The release's time beside the range, and when a newer count may come, as the service reports them.
    const size = page.getByRole('region', { name: 'Size' });
    const fact = (term: string) => size.locator('dt', { hasText: term }).locator('xpath=following-sibling::dd[1]');
    const shown = (iso: string) => new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
    expect(audience.json.countedAt).toEqual(expect.any(String));
    await hasText(fact('Counted'), shown(audience.json.countedAt));
    await hasText(
      fact('Next count'),
      new Date(audience.json.nextCountAt).getTime() > Date.now() ? `not before ${shown(audience.json.nextCountAt)}` : 'as soon as it changes',
    );

    // The list shows the audience with its range too.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audiences' }).click();
    await hasText(page.getByRole('listitem').filter({ hasText: 'Flower shop mailing list' }), 'fewer than 100 people');
    expect(await pageErrors(page)).toEqual([]);
    await context.close();
  });

  it('seals a message to a user’s published key, which the user opens', async () => {
    const user = uniqueSub('reader');
    const shop = uniqueSub('flower-shop');
    const phone = await bindPhone(await tokenFor('user', user), '+1 415 555 0177');

    const reader = await newPage(browser);
    await signIn(reader.page, 'user', user);
    await reader.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Inbox' }).click();
    await reader.page.getByRole('button', { name: 'Make a key for this browser' }).click();
    await shows(reader.page.getByText('Businesses seal messages to its public part.'));
    const publicKey = await reader.page.getByLabel('Public key').inputValue();
    const published = await api<{ keyId: string; publicKey: string }>('GET', `/v1/recipients/${encodeURIComponent(phone)}/key`, {
      token: await tokenFor('business', shop),
    });
    expect(published.json.publicKey).toBe(publicKey);

    const sender = await newPage(browser);
    const sends: { keyId: string }[] = [];
    sender.page.on('request', (request: Request) => {
      if (request.method() === 'POST' && request.url().endsWith('/v1/messages')) sends.push(request.postDataJSON() as { keyId: string });
    });
    await signIn(sender.page, 'business', shop);
    await sender.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Send a message' }).click();
    await sender.page.getByLabel("Recipient's phone number").fill(phone);
    await sender.page.getByLabel('Message', { exact: true }).fill('Order 1017: 12 red roses, $54');
    await sender.page.getByRole('button', { name: 'Seal and send' }).click();
    await hasText(sender.page.getByRole('region', { name: 'Sent' }).locator('dd').nth(1), 'accepted');
    expect(sends).toEqual([expect.objectContaining({ keyId: published.json.keyId })]);

    await reader.page.reload();
    await hasText(reader.page.locator('.plaintext'), 'Order 1017: 12 red roses, $54');
    await reader.page.getByRole('button', { name: 'Mark as received' }).click();
    await settle();
    await sender.page.getByRole('button', { name: 'Check status' }).click();
    await hasText(sender.page.getByRole('region', { name: 'Sent' }).locator('dd').nth(1), 'delivered');
    expect(await pageErrors(reader.page)).toEqual([]);
    expect(await pageErrors(sender.page)).toEqual([]);
    await reader.context.close();
    await sender.context.close();
  });

  it('seals again to the new key when the recipient replaced theirs after the lookup (409)', async () => {
    const user = uniqueSub('mover');
    const shop = uniqueSub('flower-shop');
    const userToken = await tokenFor('user', user);
    const phone = await bindPhone(userToken, '+1 415 555 0178');
    const { generateKeyPair, publicKeyOf } = await import('../../client/keys');
    const { open } = await import('../../client/hpke');
    const first = await generateKeyPair();
    const second = await generateKeyPair();
    const publish = async (keyPair: typeof first) => {
      const answer = await api<{ keyId: string }>('PUT', '/v1/me/keys', { token: userToken, body: { publicKey: await publicKeyOf(keyPair) } });
      expect(answer.status).toBe(200);
      return answer.json.keyId;
    };
    const firstKeyId = await publish(first);

    // The user publishes a new key while the shop's first send is on its way, sealed to the key it looked up.
    const { context, page } = await newPage(browser);
    const sends: { keyId: string }[] = [];
    let secondKeyId: string | undefined;
    await page.route('**/v1/messages', async (route) => {
      sends.push(route.request().postDataJSON() as { keyId: string });
      if (sends.length === 1) secondKeyId = await publish(second);
      await route.continue();
    });
    await signIn(page, 'business', shop);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Send a message' }).click();
    await page.getByLabel("Recipient's phone number").fill(phone);
    await page.getByLabel('Message', { exact: true }).fill('Table for two at 8 pm');
    await page.getByRole('button', { name: 'Seal and send' }).click();
    await hasText(page.getByRole('region', { name: 'Sent' }).locator('dd').nth(1), 'accepted');

    // The first send named the old key and was refused; the page fetched the new key and sealed to it.
    expect(sends.map((s) => s.keyId)).toEqual([firstKeyId, secondKeyId]);
    const inbox = await api<{ items: { keyId: string; ciphertext: string }[] }>('GET', '/v1/me/messages', { token: userToken });
    expect(inbox.json.items.map((m) => m.keyId)).toEqual([secondKeyId]);
    expect(await open(second, inbox.json.items[0]!.ciphertext)).toEqual({ text: 'Table for two at 8 pm' });
    expect(await pageErrors(page)).toEqual([]);
    await context.close();
  });
});
