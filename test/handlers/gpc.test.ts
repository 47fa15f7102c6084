import { DynamoDBDocumentClient, GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as applyGpc } from '../../functions/apply-gpc/handler';
import { handler as history } from '../../functions/get-consent-history/handler';
import { stateKey } from '../../functions/tables/consent-states';
import { invokeHttp, lambdaContext } from '../support/events';

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
afterEach(() => {
  ddb.reset();
  sqs.reset();
});

const state = (ads: 'granted' | 'denied', version = 3) => ({
  ...stateKey('u-1'),
  consentVersion: version,
  consentPolicyVersion: '2016-08-25',
  purposes: { ads_targeting: ads, friend_suggestions: 'granted' },
  consentUpdatedAt: '2026-11-01T00:00:00.000Z',
  receiptHash: 'b'.repeat(64),
});
const givenState = (item?: Record<string, unknown>) => ddb.on(GetCommand, { TableName: 'test-consentStates', Key: stateKey('u-1') }).resolves({ Item: item });

describe('Global Privacy Control on a reading route (GET /v1/me/consent/history)', () => {
  beforeEach(() => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    sqs.on(SendMessageCommand).resolves({});
  });

  it('forwards the signal of a user who grants ads: the user id and the version seen, nothing else', async () => {
    givenState(state('granted'));

    const res = await invokeHttp(history, { path: '/v1/me/consent/history', headers: { 'sec-gpc': '1' } });

    expect(res.status).toBe(200);
    const sent = sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(sent).toEqual([
      { QueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/test-gpcSignals', MessageBody: JSON.stringify({ userId: 'u-1', seenVersion: 3 }) },
    ]);
  });

  it.each([
    ['without the header', {}, state('granted')],
    ['with Sec-GPC: 0', { 'sec-gpc': '0' }, state('granted')],
    ['for a user who denies ads', { 'sec-gpc': '1' }, state('denied')],
    ['for a user who never decided', { 'sec-gpc': '1' }, undefined],
  ])('sends nothing %s', async (_what, headers, item) => {
    givenState(item);
    expect((await invokeHttp(history, { path: '/v1/me/consent/history', headers })).status).toBe(200);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });
});

describe('applyGpc', () => {
  const signal = (body: unknown) => ({ Records: [{ messageId: 'm-1', body: JSON.stringify(body) }] }) as never;

  it('records the denial (source gpc, chained to the state’s receipt) under a version condition', async () => {
    givenState(state('granted'));
    ddb.on(TransactWriteCommand).resolves({});

    expect(await applyGpc(signal({ userId: 'u-1', seenVersion: 3 }), lambdaContext())).toEqual({ batchItemFailures: [] });

    const [update, put] = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(update!.Update!.ExpressionAttributeValues).toEqual(expect.objectContaining({ ':prev': 3, ':v': 4, ':p': '2016-08-25' }));
    expect(put!.Put!.Item).toEqual(
      expect.objectContaining({
        userId: 'u-1',
        version: 4,
        source: 'gpc',
        prevHash: 'b'.repeat(64),
        purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' },
      }),
    );
  });

  it('records nothing when a newer decision came after the signal, or ads is denied already', async () => {
    givenState(state('granted', 5));
    await applyGpc(signal({ userId: 'u-1', seenVersion: 3 }), lambdaContext());
    givenState(state('denied', 3));
    await applyGpc(signal({ userId: 'u-1', seenVersion: 3 }), lambdaContext());

    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });
});
