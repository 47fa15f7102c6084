import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { getAccountState, stateKey, storedAnswer } from '../../functions/tables/consent-states';
import { getIdentity, ownerOf } from '../../functions/tables/identities';
import { legacyClaimKey, legacyIdempotencyKey, legacyUserKey } from '../../functions/tables/legacy-accounts';
import { migrate } from '../../scripts/migrate-accounts';
import { functionCalls, passThrough, uniqueId } from './support/db';
import { tableOf } from './support/store';

/**
 * The migration from the previous layout (one accounts table) on DynamoDB
 * Local: every kind of item lands where the current table modules read it,
 * nothing written since the deploy is overwritten, and a second run moves
 * nothing more.
 */
describe('scripts/migrate-accounts.ts', () => {
  const raw = new DynamoDBClient({ maxAttempts: 3 });
  const ddb = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const legacy = `store-legacy-accounts-${uniqueId('t')}`;
  const tables = { from: legacy, identities: tableOf('identities'), consentStates: tableOf('consentStates') };

  beforeEach(() => passThrough());
  beforeAll(async () => {
    await raw.send(
      new CreateTableCommand({
        TableName: legacy,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
  });
  afterAll(async () => {
    await raw.send(new DeleteTableCommand({ TableName: legacy }));
    raw.destroy();
    functionCalls.restore();
  });

  const put = (item: Record<string, unknown>) => ddb.send(new PutCommand({ TableName: legacy, Item: item }));

  it('moves identifiers, claims, consent and idempotency answers where the table modules read them, once', async () => {
    // Prepare: a user with both identifiers and a decision, an erased one, an idempotency answer, and a user who decided again since the deploy
    const ana = uniqueId('ana');
    const eve = uniqueId('eve');
    const raj = uniqueId('raj');
    const phone = `+1415555${String(Math.floor(Math.random() * 9000) + 1000)}`;
    const email = `${ana}@example.com`;
    const purposes = { ads_targeting: 'granted', friend_suggestions: 'denied' };
    const receipt = { receiptId: 'r1', version: 1, policyVersion: '2016-08-25', purposes, source: 'settings', recordedAt: '2026-11-01T00:00:00.000Z' };
    await put({
      ...legacyUserKey(ana),
      userId: ana,
      phoneNumber: phone,
      email,
      createdAt: '2026-10-01T00:00:00.000Z',
      updatedAt: '2026-10-02T00:00:00.000Z',
      consentVersion: 1,
      consentPolicyVersion: '2016-08-25',
      purposes,
      consentUpdatedAt: '2026-11-01T00:00:00.000Z',
    });
    await put({ ...legacyClaimKey('phoneNumber', phone), userId: ana, claimedAt: '2026-10-01T00:00:00.000Z' });
    await put({ ...legacyClaimKey('email', email), userId: ana, claimedAt: '2026-10-02T00:00:00.000Z' });
    await put({ ...legacyIdempotencyKey(ana, 'key-1'), requestHash: 'h', receipt, expiresAt: 2_000_000_000 });
    await put({ ...legacyUserKey(eve), userId: eve, createdAt: '2026-10-01T00:00:00.000Z', erasedAt: '2026-10-03T00:00:00.000Z' });
    await put({
      ...legacyUserKey(raj),
      userId: raj,
      consentVersion: 1,
      consentPolicyVersion: '2016-08-25',
      purposes,
      consentUpdatedAt: '2026-10-01T00:00:00.000Z',
    });
    await ddb.send(
      new PutCommand({
        TableName: tables.consentStates,
        Item: {
          ...stateKey(raj),
          consentVersion: 2,
          consentPolicyVersion: '2016-08-25',
          purposes: { ads_targeting: 'denied', friend_suggestions: 'denied' },
          consentUpdatedAt: '2026-11-30T00:00:00.000Z',
        },
      }),
    );

    // Act
    const first = await migrate(ddb, tables, { dryRun: false });
    const second = await migrate(ddb, tables, { dryRun: false });

    // Assess: where the service reads it
    expect(await getIdentity(ana)).toEqual({ userId: ana, phoneNumber: phone, email, createdAt: '2026-10-01T00:00:00.000Z' });
    expect(await ownerOf('phoneNumber', phone)).toBe(ana);
    expect(await ownerOf('email', email)).toBe(ana);
    expect((await getAccountState(ana)).consent).toEqual({ version: 1, policyVersion: '2016-08-25', purposes, updatedAt: '2026-11-01T00:00:00.000Z' });
    expect(await storedAnswer(ana, 'key-1')).toEqual({ requestHash: 'h', receipt });
    expect(await getIdentity(eve)).toEqual({ userId: eve });
    expect((await getAccountState(eve)).erasedAt).toBe('2026-10-03T00:00:00.000Z');
    // ...a decision made since the deploy is kept
    expect((await getAccountState(raj)).consent.version).toBe(2);
    // ...and the counts: one identity (ana), two claims, three consent states minus raj's, one answer; nothing moves twice
    expect(first).toEqual({ read: 6, identities: 1, claims: 2, consentStates: 2, idempotency: 1, skipped: 0, alreadyThere: 1 });
    expect(second).toEqual(expect.objectContaining({ read: 6, identities: 0, claims: 0, consentStates: 0, idempotency: 0, alreadyThere: 7 }));
  });

  it('writes nothing on a dry run', async () => {
    const zed = uniqueId('zed');
    await put({ ...legacyUserKey(zed), userId: zed, email: `${zed}@example.com` });

    const counts = await migrate(ddb, tables, { dryRun: true });

    expect(counts.identities).toBeGreaterThanOrEqual(1);
    expect(await getIdentity(zed)).toEqual({ userId: zed });
  });
});
