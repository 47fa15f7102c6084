/** `audiences create`, `audiences list` and `audiences status`. */
import { type Command, Option } from 'commander';
import { customerFileSourceValues } from '../../client/api';
import { api, type Audience, type CustomerFileSource, type UploadSession } from '../api';
import { type CommonFlags, type Context, count, execute, makeClient, table, withCommonOptions } from '../context';
import { UsageError } from '../errors';
import { parseSessionId } from '../upload';

function describeSize(audience: Audience): string {
  const { lower, upper } = audience.approximateCount;
  return lower === 0 && !audience.targetable ? `fewer than ${count(upper)} (below the minimum audience size)` : `between ${count(lower)} and ${count(upper)}`;
}

export function audienceLines(audience: Audience): string[] {
  return [
    `Audience ${audience.id}: ${JSON.stringify(audience.name)}`,
    ...table([
      ['status', audience.status],
      ['size', describeSize(audience)],
      ['targetable', audience.targetable ? 'yes' : 'no'],
      ['source', audience.customerFileSource],
      ['created', audience.createdAt],
    ]),
  ];
}

export function registerAudienceCommands(program: Command, ctx: Context): void {
  withCommonOptions(
    program
      .command('create')
      .description('create a custom audience')
      .requiredOption('--name <name>', 'a name for the audience (shown only to your business)')
      .addOption(new Option('--source <source>', 'where the customer data comes from').choices(customerFileSourceValues).default('USER_PROVIDED_ONLY')),
  ).action(async (flags: CommonFlags & { name: string; source: CustomerFileSource }) => {
    await execute(ctx, flags, async () => {
      const name = flags.name.trim();
      if (name === '') throw new UsageError('--name must not be empty');
      const audience = await api.createAudience(makeClient(ctx, flags), { name, customerFileSource: flags.source });
      return {
        json: audience,
        text: [...audienceLines(audience), '', `Upload customers with: audiences upload <file.csv> --audience ${audience.id} --country <ISO>`],
      };
    });
  });

  withCommonOptions(program.command('list').description('list your audiences')).action(async (flags: CommonFlags) => {
    await execute(ctx, flags, async () => {
      const { items } = await api.listAudiences(makeClient(ctx, flags));
      return {
        json: { items },
        text: items.length === 0 ? ['No audiences yet.'] : items.flatMap((audience, i) => [...(i > 0 ? [''] : []), ...audienceLines(audience)]),
      };
    });
  });

  withCommonOptions(
    program
      .command('status')
      .description("show an audience's status and approximate size, and optionally an upload session's stage")
      .argument('<audience-id>', 'the audience id')
      .option('--session <id>', 'also show this upload session (the id `audiences upload` printed)'),
  ).action(async (audienceId: string, flags: CommonFlags & { session?: string }) => {
    await execute(ctx, flags, async () => {
      const sessionId = flags.session === undefined ? undefined : parseSessionId(flags.session);
      const client = makeClient(ctx, flags);
      const audience = await api.getAudience(client, audienceId);
      const session: UploadSession | undefined = sessionId === undefined ? undefined : await api.getSession(client, audienceId, sessionId);
      const text = audienceLines(audience);
      if (session) {
        text.push(
          '',
          `Session ${session.sessionId}:`,
          ...table([
            ['stage', session.stage],
            ['batches received', count(session.batchesReceived)],
            ['rows received', count(session.numReceived)],
            ['rows invalid', count(session.numInvalid)],
          ]),
        );
      }
      return { json: { audience, ...(session && { session }) }, text };
    });
  });
}
