/**
 * `npm run migrate:accounts -- --from <old accounts table> --identities <table> --consent-states <table>`
 *
 * Moves a stack of the previous layout, where one `accounts` table held
 * phone numbers, emails, their claims, consent state and idempotency
 * answers, to the current one: identifiers and their claims into the
 * identities table, consent state and idempotency answers into the consent
 * state table (functions/tables/identities.ts and consent-states.ts). Items
 * are written with the table modules' own key builders, and only where the
 * target has no item yet, so a decision or a new binding made since the
 * deploy is never overwritten and the script can be run again after a stop.
 * The old table is only read. Credentials and region come from the usual AWS
 * environment; `--endpoint` points at a local stack's DynamoDB.
 *
 * Prints what it moved (`--json` for a JSON line); `--dry-run` counts only.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, paginateScan } from '@aws-sdk/lib-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import { Command } from 'commander';
import { mapLimit } from '../functions/shared/concurrency';
import { idempotencyKey, stateKey } from '../functions/tables/consent-states';
import { claimKey, identityKey } from '../functions/tables/identities';
import { legacyAccountItem } from '../functions/tables/legacy-accounts';

type Item = Record<string, NativeAttributeValue>;

export interface Moved {
  readonly table: 'identities' | 'consentStates';
  readonly item: Item;
}

export interface MigrationCounts {
  read: number;
  identities: number;
  claims: number;
  consentStates: number;
  idempotency: number;
  skipped: number;
  alreadyThere: number;
}

/** Where one item of the old accounts table goes (nothing for an item of an unknown kind). */
export function migrateItem(raw: Item): Moved[] {
  const legacy = legacyAccountItem(raw);
  const old = legacy.item;
  switch (legacy.kind) {
    case 'user': {
      const moved: Moved[] = [];
      if (old.phoneNumber !== undefined || old.email !== undefined) {
        moved.push({
          table: 'identities',
          item: {
            ...identityKey(legacy.userId),
            ...(old.phoneNumber !== undefined ? { phoneNumber: old.phoneNumber } : {}),
            ...(old.email !== undefined ? { email: old.email } : {}),
            ...(old.createdAt !== undefined ? { createdAt: old.createdAt } : {}),
            ...(old.updatedAt !== undefined ? { updatedAt: old.updatedAt } : {}),
          },
        });
      }
      const state: Item = {};
      for (const field of ['consentVersion', 'consentPolicyVersion', 'purposes', 'consentUpdatedAt', 'createdAt', 'erasedAt']) {
        if (old[field] !== undefined) state[field] = old[field];
      }
      if (Object.keys(state).length > 0) moved.push({ table: 'consentStates', item: { ...stateKey(legacy.userId), ...state } });
      return moved;
    }
    case 'claim':
      return [{ table: 'identities', item: { ...claimKey(legacy.field, legacy.value), userId: old.userId, claimedAt: old.claimedAt } }];
    case 'idempotency': {
      const { pk: _old, ...answer } = old;
      return [{ table: 'consentStates', item: { ...answer, ...idempotencyKey(legacy.userId, legacy.key) } }];
    }
    case 'unknown':
      return [];
  }
}

export async function migrate(
  ddb: DynamoDBDocumentClient,
  tables: { from: string; identities: string; consentStates: string },
  options: { dryRun: boolean },
): Promise<MigrationCounts> {
  const counts: MigrationCounts = { read: 0, identities: 0, claims: 0, consentStates: 0, idempotency: 0, skipped: 0, alreadyThere: 0 };
  for await (const page of paginateScan({ client: ddb }, { TableName: tables.from, ConsistentRead: true })) {
    const moves = (page.Items ?? []).flatMap((old) => {
      counts.read += 1;
      const moved = migrateItem(old);
      if (moved.length === 0) counts.skipped += 1;
      return moved;
    });
    await mapLimit(moves, 8, async ({ table, item }) => {
      const pk = String(item.pk);
      const kind =
        table === 'identities'
          ? pk.startsWith(identityKey('').pk)
            ? 'identities'
            : 'claims'
          : pk.startsWith(stateKey('').pk)
            ? 'consentStates'
            : 'idempotency';
      if (!options.dryRun) {
        try {
          await ddb.send(
            new PutCommand({
              TableName: table === 'identities' ? tables.identities : tables.consentStates,
              Item: item,
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          );
        } catch (error) {
          if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
          counts.alreadyThere += 1;
          return;
        }
      }
      counts[kind] += 1;
    });
  }
  return counts;
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('migrate-accounts')
    .description('Move a stack of the previous layout (one accounts table) to the identities and consent-state tables.')
    .requiredOption('--from <table>', "the previous layout's accounts table (only read)")
    .requiredOption('--identities <table>', 'the identities table of the deployed stack')
    .requiredOption('--consent-states <table>', 'the consent-state table of the deployed stack')
    .option('--endpoint <url>', "a DynamoDB endpoint (a local stack's)")
    .option('--dry-run', 'count what would move, write nothing', false)
    .option('--json', 'print one JSON line', false)
    .exitOverride();
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    return (error as { exitCode?: number }).exitCode ?? 2;
  }
  const options = program.opts<{ from: string; identities: string; consentStates: string; endpoint?: string; dryRun: boolean; json: boolean }>();
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient(options.endpoint ? { endpoint: options.endpoint } : {}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const counts = await migrate(ddb, { from: options.from, identities: options.identities, consentStates: options.consentStates }, { dryRun: options.dryRun });
  if (options.json) process.stdout.write(`${JSON.stringify({ dryRun: options.dryRun, ...counts })}\n`);
  else {
    process.stdout.write(
      `${options.dryRun ? 'Would move' : 'Moved'} ${counts.identities} identities, ${counts.claims} claims, ${counts.consentStates} consent states and ` +
        `${counts.idempotency} idempotency answers (read ${counts.read} items; ${counts.alreadyThere} already in place; ${counts.skipped} of no known kind).\n`,
    );
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`migrate-accounts: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
