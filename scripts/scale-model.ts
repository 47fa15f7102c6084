/**
 * The scale model: what the service costs and where it runs into AWS limits
 * at the scale of the seed, by arithmetic. SCALING.md quotes these numbers
 * and `npm run simulate:scale` prints them beside what it measured, so the
 * document and the simulation cannot disagree.
 *
 * Every operation is a bill of the calls the code makes (read off the
 * handlers, services and table modules, named in each line), multiplied by
 * public us-east-1 prices of the date below. Lambda durations are
 * assumptions for AWS (arm64), not local measurements: they are named as such.
 */
import { CHUNK_MAX_BYTES, KEY_BYTES, MAX_ROWS } from '../functions/core/audiences';
import { GET_BATCH, WRITE_BATCH } from '../functions/tables/batch';
import { functions, queues, settings } from '../catalog';

/** The date the prices below were read. */
export const PRICES_DATE = '2026-11-29';

/** us-east-1, on-demand, per unit (USD). */
export const PRICES = {
  /** HTTP API, first 300 million requests a month; each 512 KB of a request is metered as one request. */
  apiRequest: 1.0 / 1e6,
  /** Lambda arm64, per GB-second (first 7.5 billion GB-s a month). */
  lambdaGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  /** DynamoDB on demand (after the November 2024 price cut): per write and read request unit. */
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  dynamoStorageGbMonth: 0.25,
  /** SQS standard, per request; each 64 KB of payload is one request. */
  sqsRequest: 0.4 / 1e6,
  /** SQS FIFO, per request; each 64 KB of payload is one request. */
  sqsFifoRequest: 0.5 / 1e6,
  /** SNS standard topic, per publish (64 KB); deliveries to SQS queues are not charged by SNS. */
  snsPublish: 0.5 / 1e6,
  /** KMS asymmetric (ECC) request, e.g. Sign. */
  kmsAsymmetricRequest: 0.15 / 1e4,
} as const;

/** Where each price was read (SCALING.md prints these). */
export const PRICE_SOURCES: readonly string[] = [
  'DynamoDB on-demand $0.625 per million write request units, $0.125 per million read request units, storage $0.25/GB-month; GetRecords of streams by Lambda free (AWS pricing page, as quoted after the Nov 2024 cut)',
  'Lambda arm64 $0.0000133334 per GB-s, $0.20 per million requests',
  'API Gateway HTTP API $1.00 per million requests (first 300 million a month), metered in 512 KB increments',
  'SQS standard $0.40 and FIFO $0.50 per million requests, each 64 KB chunk of a payload a request (cloudburn.io and factualminds.com pricing guides, March and June 2026)',
  'SNS standard $0.50 per million publishes; deliveries to SQS not charged by SNS (factualminds.com, June 2026); the SQS side of a delivery is counted here as one SQS request',
  'KMS asymmetric ECC requests $0.15 per 10,000 (AWS KMS pricing page as recalled; one third-party guide lists $0.03: the higher figure is used)',
];

// ------------------------------------------------------------------ DynamoDB arithmetic

export const DYNAMO_LIMITS = {
  /** Per partition, per second. */
  readUnitsPerPartition: 3000,
  writeUnitsPerPartition: 1000,
  /** An item collection with a local secondary index (no table here has one). */
  itemCollectionBytes: 10 * 1024 ** 3,
  itemBytes: 400 * 1024,
} as const;

/** Write request units of one write of an item of `bytes` (1 KB a unit); a transactional write costs twice. */
export const writeUnits = (bytes: number, transactional = false): number => Math.max(1, Math.ceil(bytes / 1024)) * (transactional ? 2 : 1);
/** Read request units of reading `bytes` (4 KB a unit): strongly consistent 1, eventually consistent 0.5, transactional 2. */
export const readUnits = (bytes: number, mode: 'eventual' | 'strong' | 'transactional' = 'strong'): number =>
  Math.max(1, Math.ceil(bytes / 4096)) * (mode === 'eventual' ? 0.5 : mode === 'strong' ? 1 : 2);

// ------------------------------------------------------------------ the load of the seed

export const SEED_LOAD = {
  accounts: 2e9,
  /** Consent decisions in the rollout week. */
  rolloutDecisions: 200e6,
  rolloutSeconds: 7 * 86_400,
  /** The busiest hour of the rollout against the week's average (assumption: a notification shown to everyone who opens the app). */
  rolloutPeakFactor: 5,
  /** Rows of the largest customer list. */
  largestListRows: 50e6,
  businessesUploadingPerDay: 10_000,
  /** Rows a business uploads a day on average (assumption). */
  rowsPerBusinessUpload: 1e6,
} as const;

/** Assumptions about the data, used wherever a size or a share matters. */
export const ASSUMPTIONS = {
  /** Match keys per uploaded row (phone only 1, phone and email 2). */
  keysPerRow: 1.5,
  /** Share of uploaded rows that match a consenting user. */
  matchRate: 0.5,
  /** Share of decisions that deny ads_targeting. */
  denyShare: 0.3,
  /** Identifiers (match keys) per user with ads_targeting granted. */
  keysPerUser: 1.5,
  /** Audiences a user who denies is in (removed one transaction each). */
  audiencesPerDenyingUser: 2,
  /** Share of messages sent to a recipient new to the business (costs the new-recipient count). */
  newRecipientShare: 0.1,
  /** Average ciphertext of a message, bytes. */
  ciphertextBytes: 1024,
  /** Bytes of an audience item young (a few uploads) and after a year of daily uploads and releases (see audienceItemBytes). */
  audienceUploadDays: 30,
  /** Messages a recipient gets per fetch of the inbox (each fetch is a list and an ack). */
  messagesPerInboxFetch: 1,
  /** Records in one batch of a busy queue or stream consumer (queues at their batch size once they have a backlog). */
  busyBatchFill: 1,
};
export type Assumptions = typeof ASSUMPTIONS;

/** Bytes of a keyed row in a chunk: a flag byte and 32 bytes a key. */
export const rowBytes = (keysPerRow: number): number => 1 + KEY_BYTES * keysPerRow;
export const rowsPerChunk = (keysPerRow: number): number => Math.floor(CHUNK_MAX_BYTES / rowBytes(keysPerRow));
export const chunksOfRows = (rows: number, keysPerRow: number): number => {
  const batches = Math.floor(rows / MAX_ROWS);
  const perBatch = Math.ceil(MAX_ROWS / rowsPerChunk(keysPerRow));
  const rest = rows - batches * MAX_ROWS;
  return batches * perBatch + (rest > 0 ? Math.ceil(rest / rowsPerChunk(keysPerRow)) : 0);
};
/** Characters of a chunk on the queue (base64 plus a small JSON envelope) and the SQS requests one send or receive of it is billed as. */
export const chunkMessageBytes = (keysPerRow: number): number => Math.ceil((rowsPerChunk(keysPerRow) * rowBytes(keysPerRow) * 4) / 3) + 400;
export const sqs64kUnits = (bytes: number): number => Math.max(1, Math.ceil(bytes / 65_536));
/** JSON body of an upload request of `rows` rows of `keysPerRow` 64-character hex cells: API Gateway meters it in 512 KB units. */
export const uploadRequestBytes = (rows: number, keysPerRow: number): number => rows * (keysPerRow * 67 + 4) + 200;

/**
 * An audience item grows with what it records: one `expiring` entry per
 * expiry day with members (one per upload day, kept 540 days), the expiry
 * days not yet shown, and one `releaseLog` time per fresh size release
 * within a year. About 900 bytes of fixed attributes.
 */
export const audienceItemBytes = (uploadDays: number, releases = Math.min(uploadDays, 365)): number =>
  900 + Math.min(uploadDays, 540) * 14 + Math.min(releases, 365) * 14;

// ------------------------------------------------------------------ bills of calls

export type Unit =
  | 'apiRequest'
  | 'lambdaRequest'
  | 'lambdaGbSecond'
  | 'dynamoWriteUnit'
  | 'dynamoReadUnit'
  | 'sqsRequest'
  | 'sqsFifoRequest'
  | 'snsPublish'
  | 'kmsAsymmetricRequest';

export interface Line {
  readonly what: string;
  readonly unit: Unit;
  readonly quantity: number;
}

export interface Bill {
  readonly operation: string;
  readonly per: string;
  readonly lines: readonly Line[];
}

const memoryGb = (fn: keyof typeof functions): number => ((functions[fn] as { memoryMB?: number }).memoryMB ?? 256) / 1024;
/** Assumed Lambda durations on AWS, ms (not local measurements). */
export const DURATIONS_MS = {
  putConsent: 60,
  /** A stream batch's records go out in PublishBatch calls of 10, 4 in flight: ~20 ms a call is 0.5 ms a record; 2 ms with the batch's own work. */
  publishPerRecord: 2,
  consumerPerRecord: 15,
  uploadBatch: 250,
  matcherPerChunk: 600,
  sendMessage: 45,
  listMessages: 20,
  ackMessages: 20,
  statusPerRecord: 10,
} as const;

const lambda = (fn: keyof typeof functions, invocations: number, msEach: number, what: string): Line[] => [
  { what: `${what}: invocations`, unit: 'lambdaRequest', quantity: invocations },
  { what: `${what}: ${memoryGb(fn) * 1024} MB x ${msEach} ms`, unit: 'lambdaGbSecond', quantity: (invocations * memoryGb(fn) * msEach) / 1000 },
];

const queueBatch = (queue: string): number => {
  for (const f of Object.values(functions)) if (f.trigger.kind === 'queue' && f.trigger.queue === queue) return f.trigger.batchSize;
  throw new Error(`no consumer of queue ${queue}`);
};
const streamBatch = (fn: 'publishAccountEvents' | 'trackMessageStatus'): number => {
  const t = functions[fn].trigger;
  return t.kind === 'stream' ? t.batchSize : 1;
};

/** Queues subscribed to an event type of the account-events topic. */
export const subscribersOf = (eventType: string): string[] =>
  Object.entries(queues).flatMap(([name, q]) => {
    const sub = (q as { subscription?: { topic: string; eventTypes?: readonly string[] } }).subscription;
    return sub?.topic === 'accountEvents' && (!sub.eventTypes || sub.eventTypes.includes(eventType)) ? [name] : [];
  });

/** SQS requests of a message delivered to a queue and consumed: SNS's send, and the consumer's receive and delete shared by a batch. */
const queued = (queue: string, messages: number, fill: number): Line => {
  const perBatch = Math.max(1, Math.round(queueBatch(queue) * fill));
  return { what: `SQS ${queue}: delivery + receive/delete per ${perBatch}`, unit: 'sqsRequest', quantity: messages * (1 + 2 / perBatch) };
};

/**
 * One `PUT /v1/me/consent` and everything it sets off (services/consent.ts,
 * the publisher, the three consumers of ConsentChanged).
 */
export function consentDecisionBill(a = ASSUMPTIONS): Bill {
  const fill = a.busyBatchFill;
  const subs = subscribersOf('ConsentChanged');
  const publishBatch = Math.max(1, Math.round(streamBatch('publishAccountEvents') * fill));
  const deny = a.denyShare;
  const keyChanges = a.keysPerUser; // a grant adds the user's keys, a denial removes them (match-index.ts)
  const audience = audienceItemBytes(a.audienceUploadDays);
  return {
    operation: 'consent decision',
    per: 'decision',
    lines: [
      { what: 'API Gateway request', unit: 'apiRequest', quantity: 1 },
      ...lambda('putConsent', 1, DURATIONS_MS.putConsent, 'putConsent'),
      { what: 'GetItem consent state + GetItem current policy (consistent)', unit: 'dynamoReadUnit', quantity: readUnits(400) + readUnits(300) },
      { what: 'TransactWriteItems: state update + ledger receipt (~0.9 KB)', unit: 'dynamoWriteUnit', quantity: writeUnits(500, true) + writeUnits(900, true) },
      { what: 'KMS Sign of the receipt', unit: 'kmsAsymmetricRequest', quantity: 1 },
      ...lambda('publishAccountEvents', 1 / publishBatch, DURATIONS_MS.publishPerRecord * publishBatch, `publisher (stream batch of ${publishBatch})`),
      { what: 'SNS Publish of ConsentChanged', unit: 'snsPublish', quantity: 1 },
      ...subs.map((q) => queued(q, 1, fill)),
      // applyMatchIndex: applied state, consent state, identity; key puts or deletes when ads changes; the applied record.
      ...lambda(
        'applyMatchIndex',
        1 / Math.round(queueBatch('matchIndexEvents') * fill),
        DURATIONS_MS.consumerPerRecord * queueBatch('matchIndexEvents') * fill,
        'applyMatchIndex',
      ),
      {
        what: 'applyMatchIndex: consistent reads of the applied state, consent state and identity (BatchGetItem per batch)',
        unit: 'dynamoReadUnit',
        quantity: 3,
      },
      { what: 'applyMatchIndex: key Put/Delete per identifier + applied Put', unit: 'dynamoWriteUnit', quantity: keyChanges + 1 },
      // applySuggestions: its item, the consent state, a conditional put.
      ...lambda(
        'applySuggestions',
        1 / Math.round(queueBatch('suggestionsEvents') * fill),
        DURATIONS_MS.consumerPerRecord * queueBatch('suggestionsEvents') * fill,
        'applySuggestions',
      ),
      { what: 'applySuggestions: consistent reads of the suggestion and consent state (BatchGetItem per batch)', unit: 'dynamoReadUnit', quantity: 2 },
      { what: 'applySuggestions: PutItem', unit: 'dynamoWriteUnit', quantity: 1 },
      // applyAudienceConsent: nothing for a grant; a denial reads consent and the user's memberships, then one transaction per membership.
      ...lambda(
        'applyAudienceConsent',
        1 / Math.round(queueBatch('audienceConsentEvents') * fill),
        DURATIONS_MS.consumerPerRecord * queueBatch('audienceConsentEvents') * fill,
        'applyAudienceConsent',
      ),
      {
        what: `applyAudienceConsent (${deny * 100}% denials): BatchGet consent, Query memberships, GetItem audience per membership`,
        unit: 'dynamoReadUnit',
        quantity: deny * (1 + 1 + a.audiencesPerDenyingUser * readUnits(audience)),
      },
      {
        what: `applyAudienceConsent: per membership a transaction (membership delete + audience count, ${audience} B item) + index delete`,
        unit: 'dynamoWriteUnit',
        quantity: deny * a.audiencesPerDenyingUser * (writeUnits(400, true) + writeUnits(audience, true) + 1),
      },
    ],
  };
}

/**
 * One million uploaded rows through `POST /v1/audiences/{id}/users`
 * (services/uploads.ts) and the matcher (services/matching.ts).
 */
export function uploadBill(rows = 1e6, a = ASSUMPTIONS): Bill {
  const batches = Math.ceil(rows / MAX_ROWS);
  const chunks = chunksOfRows(rows, a.keysPerRow);
  const keys = rows * a.keysPerRow;
  const matched = rows * a.matchRate;
  const audience = audienceItemBytes(a.audienceUploadDays);
  const chunkSqs = sqs64kUnits(chunkMessageBytes(a.keysPerRow));
  const matcherBatch = queueBatch('audienceMatching');
  const writeSetPages = chunks * Math.ceil(matched / chunks / 1000);
  const writeSetBytes = Math.min(1000, matched / chunks) * 40;
  return {
    operation: 'audience upload',
    per: `${rows.toLocaleString('en-US')} rows (${a.matchRate * 100}% matched, ${a.keysPerRow} keys a row)`,
    lines: [
      {
        what: `API Gateway: ${batches} requests of ~${Math.round(uploadRequestBytes(MAX_ROWS, a.keysPerRow) / 1024)} KB (512 KB units)`,
        unit: 'apiRequest',
        quantity: batches * Math.ceil(uploadRequestBytes(MAX_ROWS, a.keysPerRow) / 524_288),
      },
      ...lambda('addAudienceUsers', batches, DURATIONS_MS.uploadBatch, 'addAudienceUsers'),
      { what: 'upload: GetItem audience x2, session, batch (consistent)', unit: 'dynamoReadUnit', quantity: batches * (2 * readUnits(audience) + 2) },
      {
        what: 'upload: TransactWriteItems batch + session + audience',
        unit: 'dynamoWriteUnit',
        quantity: batches * (writeUnits(400, true) + writeUnits(500, true) + writeUnits(audience, true)),
      },
      {
        what: `SQS FIFO: ${chunks} chunks of ~${Math.round(chunkMessageBytes(a.keysPerRow) / 1024)} KB, sent and received (${chunkSqs} units each) and deleted`,
        unit: 'sqsFifoRequest',
        quantity: chunks * (2 * chunkSqs + 1 / matcherBatch),
      },
      ...lambda('matchAudienceBatch', chunks / matcherBatch, DURATIONS_MS.matcherPerChunk * matcherBatch, 'matchAudienceBatch'),
      { what: `matcher: BatchGetItem of ${keys.toLocaleString('en-US')} keys in the match index (eventual)`, unit: 'dynamoReadUnit', quantity: keys * 0.5 },
      { what: 'matcher: memberships of candidates + consent re-check (consistent BatchGet)', unit: 'dynamoReadUnit', quantity: matched * 2 },
      { what: 'matcher: batch record x2 per chunk, write-set Query', unit: 'dynamoReadUnit', quantity: chunks * 2 + writeSetPages * readUnits(writeSetBytes) },
      { what: 'matcher: membership Put + byAudience index entry', unit: 'dynamoWriteUnit', quantity: matched * 2 },
      { what: 'matcher: write-set put and delete (user ids, 1,000 an item)', unit: 'dynamoWriteUnit', quantity: writeSetPages * 2 * writeUnits(writeSetBytes) },
      {
        what: `matcher: audience item (${audience} B) pending + transactional commit with batch and session per chunk, lease per invocation`,
        unit: 'dynamoWriteUnit',
        quantity: chunks * (audienceItemUnitsPerChunk(audience) + writeUnits(600, true) + writeUnits(500, true)),
      },
    ],
  };
}

/** One message sent, listed, acknowledged and turned into `delivered` (send-message, list/ack, track-message-status). */
export function messageBill(a = ASSUMPTIONS): Bill {
  const statusBatch = Math.max(1, Math.round(streamBatch('trackMessageStatus') * a.busyBatchFill));
  const messageBytes = Math.ceil((a.ciphertextBytes * 4) / 3) + 250;
  return {
    operation: 'message',
    per: 'message sent, fetched, acknowledged',
    lines: [
      { what: 'API Gateway: send, and a list and an ack per inbox fetch', unit: 'apiRequest', quantity: 1 + 2 / a.messagesPerInboxFetch },
      ...lambda('sendMessage', 1, DURATIONS_MS.sendMessage, 'sendMessage'),
      ...lambda('listMessages', 1 / a.messagesPerInboxFetch, DURATIONS_MS.listMessages, 'listMessages'),
      ...lambda('ackMessages', 1 / a.messagesPerInboxFetch, DURATIONS_MS.ackMessages, 'ackMessages'),
      {
        what: 'send: GetItem clientMessageId, claim, key, block, contact (consistent); new recipients read 24 hourly counters',
        unit: 'dynamoReadUnit',
        quantity: 5 + a.newRecipientShare * 24,
      },
      { what: 'send: UpdateItem per-minute rate counter', unit: 'dynamoWriteUnit', quantity: 1 },
      {
        what: `send: TransactWriteItems clientMessageId + message (${messageBytes} B) + status + recipient-day count`,
        unit: 'dynamoWriteUnit',
        quantity: writeUnits(200, true) + writeUnits(messageBytes, true) + writeUnits(300, true) + writeUnits(200, true),
      },
      {
        what: 'send, new recipients: TransactWriteItems contact + hourly count',
        unit: 'dynamoWriteUnit',
        quantity: a.newRecipientShare * 2 * writeUnits(200, true),
      },
      {
        what: `list: Query of the inbox (consistent), one per ${a.messagesPerInboxFetch} messages`,
        unit: 'dynamoReadUnit',
        quantity: readUnits(messageBytes * a.messagesPerInboxFetch) / a.messagesPerInboxFetch,
      },
      { what: 'ack: conditional DeleteItem of the message', unit: 'dynamoWriteUnit', quantity: writeUnits(messageBytes) },
      ...lambda('trackMessageStatus', 1 / statusBatch, DURATIONS_MS.statusPerRecord * statusBatch, `trackMessageStatus (stream batch of ${statusBatch})`),
      { what: 'status: conditional UpdateItem to delivered', unit: 'dynamoWriteUnit', quantity: 1 },
      { what: 'status: GetItem status record (consistent) + GetItem webhook (eventual)', unit: 'dynamoReadUnit', quantity: 1.5 },
    ],
  };
}

export const costOf = (bill: Bill): number => bill.lines.reduce((sum, line) => sum + line.quantity * PRICES[line.unit], 0);

/** Cost by unit, for the table (SQS standard and FIFO requests in one column). */
export function costByUnit(bill: Bill): Record<Unit, number> {
  const out = {
    apiRequest: 0,
    lambdaRequest: 0,
    lambdaGbSecond: 0,
    dynamoWriteUnit: 0,
    dynamoReadUnit: 0,
    sqsRequest: 0,
    sqsFifoRequest: 0,
    snsPublish: 0,
    kmsAsymmetricRequest: 0,
  };
  for (const line of bill.lines) out[line.unit === 'sqsFifoRequest' ? 'sqsRequest' : line.unit] += line.quantity * PRICES[line.unit];
  return out;
}

export const quantityOf = (bill: Bill, unit: Unit): number => bill.lines.filter((l) => l.unit === unit).reduce((s, l) => s + l.quantity, 0);

export interface PerMillion {
  readonly operation: string;
  readonly per: string;
  readonly usd: number;
  readonly byUnit: Record<Unit, number>;
}

/** The three headline figures: per million consent decisions, per million matched rows, per million messages. */
export function costsPerMillion(a = ASSUMPTIONS): PerMillion[] {
  const decision = consentDecisionBill(a);
  const upload = uploadBill(1e6, a);
  const message = messageBill(a);
  const scale = (b: Record<Unit, number>, k: number) => Object.fromEntries(Object.entries(b).map(([u, v]) => [u, v * k])) as Record<Unit, number>;
  const matchedScale = 1 / a.matchRate;
  return [
    { operation: 'consent decisions', per: '1 million decisions', usd: costOf(decision) * 1e6, byUnit: scale(costByUnit(decision), 1e6) },
    {
      operation: 'matched rows',
      per: `1 million matched rows (${(1e6 / a.matchRate).toLocaleString('en-US')} uploaded)`,
      usd: costOf(upload) * matchedScale,
      byUnit: scale(costByUnit(upload), matchedScale),
    },
    { operation: 'messages', per: '1 million messages', usd: costOf(message) * 1e6, byUnit: scale(costByUnit(message), 1e6) },
  ];
}

// ------------------------------------------------------------------ hot keys and throughput

const sendRate = (): number => Number(settings.messageSendRatePerBusiness.default);

export interface HotKey {
  readonly table: string;
  readonly key: string;
  readonly load: string;
  readonly perSecond: number;
  readonly unit: 'WCU' | 'RCU';
  readonly limit: number;
  readonly note: string;
}

export const rolloutAverageRate = (load = SEED_LOAD): number => load.rolloutDecisions / load.rolloutSeconds;
export const rolloutPeakRate = (load = SEED_LOAD): number => rolloutAverageRate(load) * load.rolloutPeakFactor;

/**
 * Write units the matcher spends on an audience item of `bytes` per chunk:
 * markPending and the transactional commit, and its share of the lease that
 * an invocation takes once and its chunks hand on (services/matching.ts,
 * LeaseLine).
 */
export const audienceItemUnitsPerChunk = (bytes: number): number =>
  writeUnits(bytes) + writeUnits(bytes, true) + writeUnits(bytes) / queueBatch('audienceMatching');

/** Writes to one audience item over a whole upload of `rows` rows (services/uploads.ts and services/matching.ts). */
export function audienceItemWritesOfUpload(rows: number, a = ASSUMPTIONS): { batches: number; chunks: number; writes: number; writeUnits: number } {
  const batches = Math.ceil(rows / MAX_ROWS);
  const chunks = chunksOfRows(rows, a.keysPerRow);
  const bytes = audienceItemBytes(a.audienceUploadDays);
  // batchAcceptedPart once a batch; markPending and the commit once a chunk; acquireLease once an invocation
  // (its chunks hand the lease on in their commits, services/matching.ts LeaseLine).
  const invocations = Math.ceil(chunks / queueBatch('audienceMatching'));
  const writes = batches + 2 * chunks + invocations;
  return {
    batches,
    chunks,
    writes,
    writeUnits: batches * writeUnits(bytes, true) + chunks * audienceItemUnitsPerChunk(bytes),
  };
}

/**
 * The matcher serialises an audience's chunks on its lease: one chunk under
 * it at a time. `underLeaseMs`: the time a chunk holds it on AWS (assumed).
 */
export function serialUploadHours(rows: number, underLeaseMs = 300, a = ASSUMPTIONS): number {
  return (chunksOfRows(rows, a.keysPerRow) * underLeaseMs) / 3_600_000;
}

/**
 * Write units a second on one audience item while its upload is matched:
 * the queue is FIFO, grouped by audience, so one invocation at a time holds
 * the audience; each of its chunks writes the item twice (markPending, the
 * commit in a transaction) in `underLeaseMs`, and the invocation takes the
 * lease once. Nothing waits on the lease, so nothing polls it.
 */
export const audienceItemWriteUnitsPerSecond = (bytes: number, underLeaseMs = 300): number => (1000 / underLeaseMs) * audienceItemUnitsPerChunk(bytes);

export function hotKeys(load = SEED_LOAD, a = ASSUMPTIONS): HotKey[] {
  const peak = rolloutPeakRate(load);
  const audienceBytes = audienceItemBytes(a.audienceUploadDays);
  const upload = audienceItemWritesOfUpload(load.largestListRows, a);
  return [
    {
      table: 'policies',
      key: 'CURRENT_POLICY_KEY',
      load: `every PUT /v1/me/consent reads it strongly consistent (1 RCU), every GET eventually consistent (0.5 RCU); at the rollout peak (${Math.round(peak)} decisions/s, one GET each)`,
      perSecond: peak * (readUnits(300) + readUnits(300, 'eventual')),
      unit: 'RCU',
      limit: DYNAMO_LIMITS.readUnitsPerPartition,
      note: `one item read by every decision: the hottest key, ${Math.round((100 * peak * (readUnits(300) + readUnits(300, 'eventual'))) / DYNAMO_LIMITS.readUnitsPerPartition)}% of its partition's reads at the peak`,
    },
    {
      table: 'audiences',
      key: 'audienceKey(businessId, audienceId)',
      load: `one 50M-row audience being matched: one invocation at a time (FIFO, grouped by audience), a chunk every ~300 ms under the lease, ${audienceBytes} B item`,
      perSecond: audienceItemWriteUnitsPerSecond(audienceBytes),
      unit: 'WCU',
      limit: DYNAMO_LIMITS.writeUnitsPerPartition,
      note: `the upload writes the item ${upload.writes.toLocaleString('en-US')} times (${upload.writeUnits.toLocaleString('en-US')} WCU) over the hours it is matched; no chunk polls the lease`,
    },
    {
      table: 'audienceMemberships (byAudience index)',
      key: 'audienceId = <audience>',
      load: 'every membership of one audience lands on one index partition key; the matcher writes up to a chunk of matches at once (8 BatchWriteItem in flight)',
      perSecond: (rowsPerChunk(a.keysPerRow) * a.matchRate) / (DURATIONS_MS.matcherPerChunk / 1000),
      unit: 'WCU',
      limit: DYNAMO_LIMITS.writeUnitsPerPartition,
      note: 'DynamoDB splits a hot index partition on its sort key (userId, random), so this holds unless the audience writes faster for minutes',
    },
    {
      table: 'uploadSessions',
      key: 'sessionKey(audienceId, sessionId)',
      load: 'the session item, updated by every batch and by every chunk commit (serialised by the lease)',
      perSecond: 1000 / 300,
      unit: 'WCU',
      limit: DYNAMO_LIMITS.writeUnitsPerPartition,
      note: 'bounded by the lease: one commit at a time',
    },
    {
      table: 'messageStatus',
      key: 'rateKey(businessId, minute)',
      load: `the per-minute send counter of one business at the prod limit (${sendRate()} a minute)`,
      perSecond: sendRate() / 60,
      unit: 'WCU',
      limit: DYNAMO_LIMITS.writeUnitsPerPartition,
      note: 'a business allowed 60,000 a minute would reach the limit: shard the counter then',
    },
    {
      table: 'consentStates / ledger / matchIndex / suggestions / identities / recipients / messages',
      key: 'stateKey, receiptKey, appliedKey, indexKey, ... of one user',
      load: 'a user decides a few times at most; keys spread over 2 billion accounts',
      perSecond: 1,
      unit: 'WCU',
      limit: DYNAMO_LIMITS.writeUnitsPerPartition,
      note: 'no hot key: partitions scale out with the key space (on demand doubles the previous peak, or pre-warm)',
    },
  ];
}

/** Invocations in flight at a rate, by Little's law. */
export const concurrencyAt = (perSecond: number, ms: number): number => (perSecond * ms) / 1000;

export interface Stage {
  readonly stage: string;
  readonly perSecond: number;
  readonly concurrency: number;
  readonly note: string;
}

/** Lambda concurrency and queue throughput per stage at the rollout peak and under the daily uploads. */
export function stages(load = SEED_LOAD, a = ASSUMPTIONS): Stage[] {
  const peak = rolloutPeakRate(load);
  const subs = subscribersOf('ConsentChanged');
  const uploadRowsPerSecond = (load.businessesUploadingPerDay * load.rowsPerBusinessUpload) / 86_400;
  const chunksPerSecond = uploadRowsPerSecond / rowsPerChunk(a.keysPerRow);
  return [
    {
      stage: 'API: PUT + GET /v1/me/consent',
      perSecond: 2 * peak,
      concurrency: concurrencyAt(peak, DURATIONS_MS.putConsent) + concurrencyAt(peak, 20),
      note: 'API Gateway prod throttle 1,000 req/s, burst 2,000 (infra/stages.ts)',
    },
    { stage: 'KMS Sign (one per decision)', perSecond: peak, concurrency: 0, note: 'KMS ECC request quota (300/s by default, adjustable) is below the peak' },
    {
      stage: 'publisher (ledger stream)',
      perSecond: peak,
      concurrency: concurrencyAt(peak, DURATIONS_MS.publishPerRecord),
      note: `one invocation per shard at a time, records published in PublishBatch calls of 10, 4 in flight (~${Math.round(1000 / DURATIONS_MS.publishPerRecord)}/s a shard)`,
    },
    ...subs.map((q) => ({
      stage: `consumer of ${q}`,
      perSecond: peak,
      concurrency: concurrencyAt(peak, DURATIONS_MS.consumerPerRecord),
      note: `batch ${queueBatch(q)}; SQS standard has no practical throughput limit`,
    })),
    {
      stage: 'matcher (10,000 businesses x 1M rows a day)',
      perSecond: chunksPerSecond,
      concurrency: concurrencyAt(chunksPerSecond, DURATIONS_MS.matcherPerChunk),
      note: `${Math.round(uploadRowsPerSecond).toLocaleString('en-US')} rows/s on average; FIFO grouped by audience: at most one invocation per audience, so a backlog of one list holds one execution, not the account's`,
    },
  ];
}

/** Lookups a chunk makes: BatchGetItem calls of the match index and BatchWriteItem calls of memberships. */
export function chunkCalls(a = ASSUMPTIONS): { lookups: number; writes: number } {
  const rows = rowsPerChunk(a.keysPerRow);
  return { lookups: Math.ceil((rows * a.keysPerRow) / GET_BATCH), writes: Math.ceil((rows * a.matchRate) / WRITE_BATCH) };
}
