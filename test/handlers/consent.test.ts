import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as putConsent } from '../../functions/put-consent/handler';
import { handler as getConsent } from '../../functions/get-consent/handler';
import { handler as history } from '../../functions/get-consent-history/handler';
import { handler as getPolicy } from '../../functions/get-current-policy/handler';
import { idempotencyKey, stateKey } from '../../functions/tables/consent-states';
import { receiptKey } from '../../functions/tables/ledger';
import { CURRENT_POLICY_KEY } from '../../functions/tables/policies';
import { invokeHttp } from '../support/events';

const policy = {
  ...CURRENT_POLICY_KEY,
  version: '2016-08-25',
  purposes: ['ads_targeting', 'friend_suggestions'],
  summary: 's',
  publishedAt: '2016-08-25T00:00:00.000Z',
};
const body = { policyVersion: '2016-08-25', purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' }, source: 'notification' };

const cancelled = (codes: string[]) =>
  new TransactionCanceledException({ message: 'cancelled', $metadata: {}, CancellationReasons: codes.map((Code) => ({ Code })) });

const ddb = mockClient(DynamoDBDocumentClient);
afterEach(() => ddb.reset());

describe('PUT /v1/me/consent', () => {
  const givenUser = (state?: Record<string, unknown>) => {
    ddb.on(GetCommand, { TableName: 'test-policies', Key: CURRENT_POLICY_KEY }).resolves({ Item: policy });
    ddb.on(GetCommand, { TableName: 'test-consentStates', Key: stateKey('u-1') }).resolves({ Item: state && { ...stateKey('u-1'), ...state } });
  };

  it('records the first decision as version 1 in one transaction: state, receipt and nothing else', async () => {
    // Prepare
    givenUser(undefined);
    ddb.on(TransactWriteCommand).resolves({});
    // Act
    const res = await invokeHttp(putConsent, { method: 'PUT', body });
    // Assess
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      userId: 'u-1',
      receiptId: expect.any(String),
      version: 1,
      policyVersion: '2016-08-25',
      purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' },
      source: 'notification',
      recordedAt: expect.any(String),
      prevHash: null,
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      signature: expect.stringMatching(/^[\w-]+\.\.[\w-]{86}$/),
    });
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items).toHaveLength(2);
    // The state keeps the receipt's hash: the next receipt's prevHash.
    expect(items[0]!.Update!.ExpressionAttributeValues![':h']).toBe(res.json.hash);
    expect(items[0]!.Update).toEqual(
      expect.objectContaining({ TableName: 'test-consentStates', Key: stateKey('u-1'), ConditionExpression: 'attribute_not_exists(consentVersion)' }),
    );
    expect(items[1]!.Put).toEqual(
      expect.objectContaining({
        TableName: 'test-ledger',
        Item: expect.objectContaining({ ...receiptKey('u-1', 1), kind: 'receipt' }),
        ConditionExpression: 'attribute_not_exists(sk)',
      }),
    );
  });

  it('keeps purposes left out and guards on the previous version', async () => {
    givenUser({
      consentVersion: 7,
      consentPolicyVersion: '2016-08-25',
      purposes: { ads_targeting: 'granted', friend_suggestions: 'granted' },
      consentUpdatedAt: 't',
    });
    ddb.on(TransactWriteCommand).resolves({});
    const res = await invokeHttp(putConsent, { method: 'PUT', body: { ...body, purposes: { ads_targeting: 'denied' } } });
    expect(res.json).toEqual(expect.objectContaining({ version: 8, purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' } }));
    const update = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems![0]!.Update!;
    expect(update.ConditionExpression).toBe('consentVersion = :prev');
    expect(update.ExpressionAttributeValues![':prev']).toBe(7);
  });

  it('chains the receipt to the hash kept with the state it was decided on, under the same version condition', async () => {
    const previous = 'a'.repeat(64);
    givenUser({
      consentVersion: 3,
      consentPolicyVersion: '2016-08-25',
      purposes: { ads_targeting: 'granted', friend_suggestions: 'granted' },
      consentUpdatedAt: 't',
      receiptHash: previous,
    });
    ddb.on(TransactWriteCommand).resolves({});
    const res = await invokeHttp(putConsent, { method: 'PUT', body });
    expect(res.json).toEqual(expect.objectContaining({ version: 4, prevHash: previous }));
    const [state, receipt] = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(state!.Update!.ExpressionAttributeValues).toEqual(expect.objectContaining({ ':prev': 3, ':h': res.json.hash }));
    expect(receipt!.Put!.Item).toEqual(expect.objectContaining({ prevHash: previous, hash: res.json.hash, signature: res.json.signature }));
  });

  it('with Sec-GPC: 1, refuses to grant ads_targeting (409 gpc-conflict) and writes nothing when it was not granted', async () => {
    givenUser(undefined);
    const res = await invokeHttp(putConsent, {
      method: 'PUT',
      headers: { 'sec-gpc': '1' },
      body: { ...body, purposes: { ads_targeting: 'granted' } },
    });
    expect(res.status).toBe(409);
    expect(res.json.type).toMatch(/gpc-conflict$/);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('answers 409 for a policy version that is not current, writing nothing', async () => {
    givenUser(undefined);
    const res = await invokeHttp(putConsent, { method: 'PUT', body: { ...body, policyVersion: '2015-01-01' } });
    expect(res.status).toBe(409);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('answers 400 for an unknown purpose or value, reading and writing nothing', async () => {
    for (const purposes of [{ location: 'granted' }, { ads_targeting: 'maybe' }]) {
      const res = await invokeHttp(putConsent, { method: 'PUT', body: { ...body, purposes } });
      expect(res.status).toBe(400);
      expect(res.json.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: expect.stringContaining('purposes') })]));
    }
    expect(ddb.calls()).toHaveLength(0);
  });

  it('stores the answer with the Idempotency-Key in the same transaction', async () => {
    givenUser(undefined);
    ddb.on(GetCommand, { TableName: 'test-consentStates', Key: idempotencyKey('u-1', 'key-1') }).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    const res = await invokeHttp(putConsent, { method: 'PUT', body, headers: { 'idempotency-key': 'key-1' } });
    expect(res.status).toBe(200);
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items).toHaveLength(3);
    expect(items[2]!.Put).toEqual(
      expect.objectContaining({
        TableName: 'test-consentStates',
        Item: expect.objectContaining({ ...idempotencyKey('u-1', 'key-1'), receipt: res.json, expiresAt: expect.any(Number) }),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  });

  it('replays the stored receipt for the same key and request, recording nothing new', async () => {
    // Prepare: the first call stores the answer
    givenUser(undefined);
    ddb.on(GetCommand, { TableName: 'test-consentStates', Key: idempotencyKey('u-1', 'key-2') }).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    const first = await invokeHttp(putConsent, { method: 'PUT', body, headers: { 'idempotency-key': 'key-2' } });
    const stored = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems![2]!.Put!.Item!;
    ddb.reset();
    ddb.on(GetCommand, { TableName: 'test-consentStates', Key: idempotencyKey('u-1', 'key-2') }).resolves({ Item: stored });
    // Act: same key, same body with keys in another order
    const again = await invokeHttp(putConsent, {
      method: 'PUT',
      body: { source: 'notification', purposes: { friend_suggestions: 'granted', ads_targeting: 'denied' }, policyVersion: '2016-08-25' },
      headers: { 'idempotency-key': 'key-2' },
    });
    // Assess
    expect(again.status).toBe(200);
    expect(again.json).toEqual(first.json);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('answers 422 when the key was used for a different request', async () => {
    ddb
      .on(GetCommand, { TableName: 'test-consentStates', Key: idempotencyKey('u-1', 'key-3') })
      .resolves({ Item: { ...idempotencyKey('u-1', 'key-3'), requestHash: 'other', receipt: {} } });
    const res = await invokeHttp(putConsent, { method: 'PUT', body, headers: { 'idempotency-key': 'key-3' } });
    expect(res.status).toBe(422);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it("returns the winner's receipt when a concurrent request with the same key committed first", async () => {
    givenUser(undefined);
    const winner = { receiptId: 'r-w', version: 1, policyVersion: '2016-08-25', purposes: body.purposes, source: 'notification', recordedAt: 't' };
    let reads = 0;
    ddb.on(GetCommand, { TableName: 'test-consentStates', Key: idempotencyKey('u-1', 'key-4') }).callsFake(async () => {
      reads += 1;
      if (reads === 1) return {};
      const requestHash = (ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems![2]!.Put!.Item as { requestHash: string }).requestHash;
      return { Item: { ...idempotencyKey('u-1', 'key-4'), requestHash, receipt: winner } };
    });
    ddb.on(TransactWriteCommand).rejects(cancelled(['ConditionalCheckFailed', 'None', 'ConditionalCheckFailed']));
    const res = await invokeHttp(putConsent, { method: 'PUT', body, headers: { 'idempotency-key': 'key-4' } });
    expect(res.status).toBe(200);
    expect(res.json).toEqual(winner);
  });

  it('decides again on fresh state when a concurrent decision won the version race', async () => {
    let userReads = 0;
    ddb.on(GetCommand, { TableName: 'test-policies', Key: CURRENT_POLICY_KEY }).resolves({ Item: policy });
    ddb.on(GetCommand, { TableName: 'test-consentStates', Key: stateKey('u-1') }).callsFake(async () => {
      userReads += 1;
      return userReads === 1
        ? {}
        : {
            Item: {
              ...stateKey('u-1'),
              consentVersion: 1,
              consentPolicyVersion: '2016-08-25',
              purposes: { ads_targeting: 'granted', friend_suggestions: 'denied' },
              consentUpdatedAt: 't',
            },
          };
    });
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled(['ConditionalCheckFailed', 'None']))
      .resolves({});
    const res = await invokeHttp(putConsent, { method: 'PUT', body: { ...body, purposes: { friend_suggestions: 'granted' } } });
    expect(res.status).toBe(200);
    expect(res.json).toEqual(expect.objectContaining({ version: 2, purposes: { ads_targeting: 'granted', friend_suggestions: 'granted' } }));
  });

  it('rejects a malformed Idempotency-Key', async () => {
    const res = await invokeHttp(putConsent, { method: 'PUT', body, headers: { 'idempotency-key': 'x'.repeat(300) } });
    expect(res.status).toBe(400);
    expect(ddb.calls()).toHaveLength(0);
  });
});

describe('GET /v1/me/consent and history', () => {
  it('shows a user who never decided as denied with version 0 and a decision required', async () => {
    ddb.on(GetCommand, { TableName: 'test-policies', Key: CURRENT_POLICY_KEY }).resolves({ Item: policy });
    ddb.on(GetCommand, { TableName: 'test-consentStates', Key: stateKey('u-1') }).resolves({});
    const res = await invokeHttp(getConsent, {});
    expect(res.json).toEqual(
      expect.objectContaining({ version: 0, decisionRequired: true, purposes: { ads_targeting: 'denied', friend_suggestions: 'denied' } }),
    );
  });

  it('lists receipts newest first, across pages', async () => {
    const receipt = (v: number) => ({
      ...receiptKey('u-1', v),
      kind: 'receipt',
      receiptId: `r${v}`,
      version: v,
      policyVersion: 'p',
      purposes: { ads_targeting: 'granted', friend_suggestions: 'denied' },
      source: 'settings',
      recordedAt: 't',
    });
    ddb
      .on(QueryCommand, { TableName: 'test-ledger' })
      .resolvesOnce({ Items: [receipt(3), receipt(2)], LastEvaluatedKey: receiptKey('u-1', 2) })
      .resolvesOnce({ Items: [receipt(1)] });
    const res = await invokeHttp(history, {});
    expect((res.json.items as { version: number }[]).map((r) => r.version)).toEqual([3, 2, 1]);
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toEqual(
      expect.objectContaining({ ScanIndexForward: false, KeyConditionExpression: 'userId = :u AND begins_with(sk, :c)' }),
    );
    expect(ddb.commandCalls(QueryCommand)[1]!.args[0].input.ExclusiveStartKey).toEqual(receiptKey('u-1', 2));
    expect(JSON.stringify(res.json)).not.toContain('"sk"');
    expect(JSON.stringify(res.json)).not.toContain('"kind"');
  });

  it('reads the current policy strongly consistent to decide on it, eventually consistent where it is only shown', async () => {
    ddb.on(GetCommand, { TableName: 'test-policies', Key: CURRENT_POLICY_KEY }).resolves({ Item: policy });
    ddb.on(GetCommand, { TableName: 'test-consentStates', Key: stateKey('u-1') }).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    const policyReads = () => ddb.commandCalls(GetCommand).filter((c) => c.args[0].input.TableName === 'test-policies');

    expect((await invokeHttp(getConsent, {})).status).toBe(200);
    expect((await invokeHttp(getPolicy, { claims: { sub: 'b-1', role: 'business' } })).status).toBe(200);
    expect(policyReads().map((c) => c.args[0].input.ConsistentRead)).toEqual([false, false]);

    ddb.resetHistory();
    expect((await invokeHttp(putConsent, { method: 'PUT', body })).status).toBe(200);
    expect(policyReads().map((c) => c.args[0].input.ConsistentRead)).toEqual([true]);
  });

  it('answers 404 when no policy is published', async () => {
    ddb.on(GetCommand).resolves({});
    const res = await invokeHttp(getPolicy, { claims: { sub: 'b-1', role: 'business' } });
    expect(res.status).toBe(404);
  });
});
