import {
  ASSUMPTIONS,
  PRICES,
  audienceItemBytes,
  audienceItemWritesOfUpload,
  chunksOfRows,
  consentDecisionBill,
  costOf,
  costsPerMillion,
  hotKeys,
  audienceItemWriteUnitsPerSecond,
  messageBill,
  quantityOf,
  readUnits,
  rolloutAverageRate,
  rolloutPeakRate,
  rowsPerChunk,
  sqs64kUnits,
  subscribersOf,
  uploadBill,
  uploadRequestBytes,
  writeUnits,
  type Bill,
} from '../../scripts/scale-model';

describe('scale model', () => {
  describe('DynamoDB units', () => {
    it('rounds writes up to whole kilobytes and doubles transactional ones', () => {
      expect([writeUnits(1), writeUnits(1024), writeUnits(1025), writeUnits(900, true), writeUnits(2100, true)]).toEqual([1, 1, 2, 2, 6]);
    });

    it('rounds reads up to 4 KB: half a unit eventually consistent, one strongly, two in a transaction', () => {
      expect([readUnits(100, 'eventual'), readUnits(4096), readUnits(4097), readUnits(100, 'transactional'), readUnits(9000, 'eventual')]).toEqual([
        0.5, 1, 2, 2, 1.5,
      ]);
    });
  });

  describe('chunks', () => {
    it('fits the rows the chunk format comment states (2,769 two-key rows, 4 chunks for 10,000)', () => {
      expect(rowsPerChunk(2)).toBe(2769);
      expect(rowsPerChunk(1)).toBe(5454);
      expect(chunksOfRows(10_000, 2)).toBe(4);
      // 2 full batches of 2 chunks, and 5,000 rows in one more.
      expect(chunksOfRows(25_000, 1)).toBe(5);
    });

    it('counts a 240 KB chunk as four 64 KB SQS requests and a 1 MB upload as two 512 KB API requests', () => {
      expect(sqs64kUnits(240_370)).toBe(4);
      expect(sqs64kUnits(10)).toBe(1);
      expect(uploadRequestBytes(10_000, 1.5)).toBe(1_045_200);
    });
  });

  describe('bills', () => {
    it('prices a bill line by line', () => {
      const bill: Bill = {
        operation: 'test',
        per: 'one',
        lines: [
          { what: 'a request', unit: 'apiRequest', quantity: 2 },
          { what: 'a signature', unit: 'kmsAsymmetricRequest', quantity: 1 },
          { what: 'writes', unit: 'dynamoWriteUnit', quantity: 4 },
        ],
      };
      expect(costOf(bill)).toBeCloseTo(2e-6 + 1.5e-5 + 4 * 0.625e-6, 12);
    });

    it('counts the DynamoDB units of a consent decision that changes no audience', () => {
      const bill = consentDecisionBill({ ...ASSUMPTIONS, denyShare: 0, keysPerUser: 1 });
      // putConsent: 2 transactional writes of items under 1 KB; applyMatchIndex: one key and the applied state; applySuggestions: one put.
      expect(quantityOf(bill, 'dynamoWriteUnit')).toBe(4 + 2 + 1);
      // putConsent: state and policy; applyMatchIndex: 3 gets; applySuggestions: 2 gets.
      expect(quantityOf(bill, 'dynamoReadUnit')).toBe(2 + 3 + 2);
      expect(quantityOf(bill, 'kmsAsymmetricRequest')).toBe(1);
      expect(quantityOf(bill, 'snsPublish')).toBe(1);
      // Three queues get ConsentChanged: SNS's delivery, plus a receive and a delete shared by each consumer's batch
      // (10 for the audience consumer, 100 for the match index and suggestions).
      expect(quantityOf(bill, 'sqsRequest')).toBeCloseTo(1 + 2 / 10 + 2 * (1 + 2 / 100), 10);
    });

    it('adds a transaction per membership of a denying user', () => {
      const none = consentDecisionBill({ ...ASSUMPTIONS, denyShare: 0, keysPerUser: 1, audienceUploadDays: 1 });
      const all = consentDecisionBill({ ...ASSUMPTIONS, denyShare: 1, keysPerUser: 1, audiencesPerDenyingUser: 2, audienceUploadDays: 1 });
      // Per membership: membership delete (2) + audience count (audience item of 928 B: 2) in a transaction, and the index entry (1).
      expect(quantityOf(all, 'dynamoWriteUnit') - quantityOf(none, 'dynamoWriteUnit')).toBe(2 * 5);
    });

    it('makes the headline costs per million from the bills', () => {
      const [decisions, matched, messages] = costsPerMillion();
      expect(decisions!.usd).toBeCloseTo(costOf(consentDecisionBill()) * 1e6, 6);
      expect(decisions!.byUnit.kmsAsymmetricRequest).toBeCloseTo(1e6 * PRICES.kmsAsymmetricRequest, 6);
      expect(decisions!.byUnit.apiRequest).toBeCloseTo(1, 10);
      expect(matched!.usd).toBeCloseTo(costOf(uploadBill(1e6)) / ASSUMPTIONS.matchRate, 6);
      expect(messages!.usd).toBeCloseTo(costOf(messageBill()) * 1e6, 6);
      expect(messages!.byUnit.apiRequest).toBeCloseTo(3, 10);
    });

    it('charges matched rows for memberships and their index entries', () => {
      const a = { ...ASSUMPTIONS, keysPerRow: 1, matchRate: 0.5, audienceUploadDays: 1 };
      const rows = 1e6;
      const bill = uploadBill(rows, a);
      const membershipWrites = bill.lines.find((l) => l.what.startsWith('matcher: membership Put'))!;
      expect(membershipWrites.quantity).toBe(1e6);
      const lookups = bill.lines.find((l) => l.what.startsWith('matcher: BatchGetItem'))!;
      expect(lookups.quantity).toBe(0.5e6);
    });
  });

  describe('load', () => {
    it('spreads 200 million decisions over a week', () => {
      expect(rolloutAverageRate()).toBeCloseTo(330.6878, 3);
      expect(rolloutPeakRate()).toBeCloseTo(5 * 330.6878, 2);
    });

    it('fans ConsentChanged out to three queues and AccountErased to four', () => {
      expect(subscribersOf('ConsentChanged').sort()).toEqual(['audienceConsentEvents', 'matchIndexEvents', 'suggestionsEvents']);
      expect(subscribersOf('AccountErased')).toHaveLength(4);
    });

    it('counts the writes to one audience item over a 50-million-row upload: one lease a matcher invocation of 10 chunks', () => {
      const upload = audienceItemWritesOfUpload(50e6, { ...ASSUMPTIONS, keysPerRow: 1, audienceUploadDays: 1 });
      expect(upload).toEqual({ batches: 5000, chunks: 10_000, writes: 5000 + 2 * 10_000 + 1000, writeUnits: 5000 * 2 + 10_000 * (1 + 2) + 1000 * 1 });
    });

    it('grows the audience item with upload days and releases', () => {
      expect(audienceItemBytes(0)).toBe(900);
      expect(audienceItemBytes(10)).toBe(900 + 10 * 14 + 10 * 14);
      expect(audienceItemBytes(1000)).toBe(900 + 540 * 14 + 365 * 14);
    });

    it('finds the current policy just under its partition limit at the seed scale, and the audience item of a 50M-row upload far below it', () => {
      const byTable = new Map(hotKeys().map((h) => [h.table, h]));
      const policy = byTable.get('policies')!;
      // A strongly consistent read by every PUT, an eventually consistent one by every GET: under the limit, with little room.
      expect(policy.perSecond).toBeCloseTo(1.5 * rolloutPeakRate(), 6);
      expect(policy.perSecond).toBeLessThan(policy.limit);
      expect(policy.perSecond).toBeGreaterThan(0.8 * policy.limit);
      // A 1,740-byte item (2 units a write): per chunk every 300 ms markPending (2) and the commit (4), the lease once per 10 chunks (2).
      expect(audienceItemWriteUnitsPerSecond(1740)).toBeCloseTo((1000 / 300) * (2 + 4 + 0.2), 6);
      const audience = byTable.get('audiences')!;
      expect(audience.perSecond).toBe(audienceItemWriteUnitsPerSecond(audienceItemBytes(ASSUMPTIONS.audienceUploadDays)));
      expect(audience.perSecond).toBeLessThan(audience.limit / 10);
    });
  });
});
