/**
 * Custom audiences on a private local stack (minimum audience size 20, as the
 * dev stage): the padding attack with real users the test controls, and the
 * rules that need the clock moved: the 90-minute session timeout and the
 * 540-day membership lifespan. Moving the clock here disturbs no other file.
 */
import { startStack } from './support';
import type { PrivateStack } from './support';
import { ensurePolicy } from './support/users';
import {
  audiencesOf,
  call,
  createAudience,
  createPeople,
  getAudience,
  newBusiness,
  newSessionId,
  rowOf,
  strangerRow,
  upload,
  waitForMatchIndex,
  waitForSession,
} from './audiences.helpers';
import type { Business, Person, Stack } from './audiences.helpers';

const MIN_SIZE = 20;
let stack: PrivateStack;
let at: Stack;
let people: Person[];

beforeAll(async () => {
  stack = await startStack({ env: { MIN_AUDIENCE_SIZE: String(MIN_SIZE) } });
  at = { baseUrl: stack.url };
  await ensurePolicy(stack.url);
  people = await createPeople(at, 40, 'granted');
  await waitForMatchIndex(at, people, 'granted');
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

async function addRows(business: Business, audienceId: string, rows: [string, string][]) {
  const sessionId = newSessionId();
  const res = await upload(at, business, audienceId, { sessionId, rows });
  expect(res.status).toBe(202);
  await waitForSession(at, business, audienceId, sessionId);
}

describe('the padding attack with real accounts', () => {
  /**
   * The attacker controls 19 consenting accounts: one below the minimum size.
   * Against a deterministic threshold, adding the target makes the audience
   * targetable exactly when the target is a member. Here the threshold is
   * redrawn for every state in [10, 20], so with a non-member the audience
   * of 19 is targetable 10 times in 11: the rule guesses wrong.
   */
  it('does not let "targetable after adding the person" reveal membership', async () => {
    // Prepare
    const attacker = await newBusiness(at);
    const own = people.slice(0, MIN_SIZE - 1);
    const member = people[30]!;
    const outcomes: { member: boolean; targetable: boolean }[] = [];
    // Act: eight audiences, the target a member in half of them
    for (let i = 0; i < 8; i++) {
      const isMember = i % 2 === 0;
      const audienceId = await createAudience(at, attacker, `probe ${i}`);
      await addRows(attacker, audienceId, own.map(rowOf));
      await addRows(attacker, audienceId, [isMember ? rowOf(member) : strangerRow()]);
      const answer = (await getAudience(at, attacker, audienceId)).json;
      const trueCount = own.length + (isMember ? 1 : 0);
      // Assess: every answer holds the truth
      expect(answer.approximateCount.lower).toBeLessThanOrEqual(trueCount);
      expect(answer.approximateCount.upper).toBeGreaterThanOrEqual(trueCount);
      if (!answer.targetable) expect(answer.approximateCount).toEqual({ lower: 0, upper: MIN_SIZE });
      outcomes.push({ member: isMember, targetable: answer.targetable });
    }
    // Assess: members are always targetable (20 >= the threshold), and so, mostly, are non-members.
    expect(outcomes.filter((o) => o.member).every((o) => o.targetable)).toBe(true);
    const fooled = outcomes.filter((o) => !o.member && o.targetable).length;
    expect(fooled).toBeGreaterThan(0); // all four right by luck: (1/11)^4, under 1 in 10,000
  }, 120_000);
});

describe('with the clock moved', () => {
  it('closes a session 90 minutes after its first batch when its last batch never comes', async () => {
    const business = await newBusiness(at);
    const audienceId = await createAudience(at, business);
    const sessionId = newSessionId();
    expect((await upload(at, business, audienceId, { sessionId, batchSeq: 1, lastBatch: false, rows: [rowOf(people[35]!)] })).status).toBe(202);
    const before = await call(at, 'GET', `/v1/audiences/${audienceId}/sessions/${sessionId}`, business.token);
    expect(before.json.stage).toBe('receiving');
    expect((await stack.api('POST', '/_local/clock', { body: { advanceSeconds: 90 * 60 + 1 } })).status).toBe(200);
    const after = await waitForSession(at, business, audienceId, sessionId);
    expect(after).toEqual({ sessionId, stage: 'done', batchesReceived: 1, numReceived: 1, numInvalid: 0 });
    const late = await upload(at, business, audienceId, { sessionId, batchSeq: 2, lastBatch: true, rows: [strangerRow()] });
    expect(late.status).toBe(409);
    expect(late.json.type).toBe('/problems/session-closed');
  });

  it('lets memberships expire 540 days after the upload that last matched them', async () => {
    // Prepare: 30 members; 300 days later half of them are matched again
    const business = await newBusiness(at);
    const audienceId = await createAudience(at, business);
    const members = people.slice(0, 30);
    await addRows(business, audienceId, members.map(rowOf));
    expect((await getAudience(at, business, audienceId)).json.targetable).toBe(true);
    await stack.api('POST', '/_local/clock', { body: { advanceSeconds: 300 * 86_400 } });
    await addRows(business, audienceId, members.slice(0, 15).map(rowOf));
    // Act: 250 more days: 550 after the first upload, 250 after the second
    await stack.api('POST', '/_local/clock', { body: { advanceSeconds: 250 * 86_400 } });
    // Assess: only the refreshed half is still in, before and after DynamoDB's TTL process
    for (const person of members.slice(0, 15)) expect(await audiencesOf(at, person.userId)).toEqual([{ audienceId, businessId: business.sub }]);
    for (const person of members.slice(15)) expect(await audiencesOf(at, person.userId)).toEqual([]);
    const range = (await getAudience(at, business, audienceId)).json.approximateCount;
    expect(range.lower).toBeLessThanOrEqual(15);
    expect(range.upper).toBeGreaterThanOrEqual(15);
    expect((await stack.api('POST', '/_local/ttl-sweep')).status).toBe(200);
    for (const person of members.slice(15, 20)) expect(await audiencesOf(at, person.userId)).toEqual([]);
    expect(await audiencesOf(at, members[0]!.userId)).toHaveLength(1);
  }, 120_000);
});
