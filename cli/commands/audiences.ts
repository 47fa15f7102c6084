/** `audiences create`, `audiences list` and `audiences status`. */
import { type Command, Option } from 'commander';
import { customerFileSourceValues } from '../../client/api';
import { api, type Audience, type CustomerFileSource, type UploadSession } from '../api';
import { type CommonFlags, type Context, count, execute, makeClient, table, withCommonOptions } from '../context';
import { CliError, UsageError } from '../errors';
import { parseSessionId } from '../upload';

const NOT_COUNTED = 'not counted yet';

function describeSize(audience: Audience): string {
  if (!audience.approximateCount) return NOT_COUNTED;
  const { lower, upper } = audience.approximateCount;
  return lower === 0 && !audience.targetable ? `fewer than ${count(upper)} (below the minimum audience size)` : `between ${count(lower)} and ${count(upper)}`;
}

/** "in 3 h 5 min", "in 40 s": how far `at` is from `nowMs`, roughly. */
function inTime(at: number, nowMs: number): string {
  const seconds = Math.max(1, Math.round((at - nowMs) / 1000));
  if (seconds < 120) return `in ${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `in ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `in ${hours} h ${minutes % 60} min`;
  return `in ${Math.round(hours / 24)} days`;
}

/**
 * When a newer count can come. The service counts again only after a change
 * (an upload or removal, or the day memberships of an upload expire), once
 * it has settled and the business's size-release budget allows; a time in
 * the past means the budget allows one now and no change is waiting.
 */
function describeNextCount(audience: Audience, nowMs: number): string {
  const at = Date.parse(audience.nextCountAt);
  if (Number.isNaN(at) || at <= nowMs) return 'after your next change (an upload or removal)';
  return `not before ${audience.nextCountAt} (${inTime(at, nowMs)})`;
}

export function audienceLines(audience: Audience, nowMs = Date.now()): string[] {
  return [
    `Audience ${audience.id}: ${JSON.stringify(audience.name)}`,
    ...table([
      ['status', audience.status],
      ['size', describeSize(audience)],
      ['targetable', audience.targetable === null ? NOT_COUNTED : audience.targetable ? 'yes' : 'no'],
      ['counted', audience.countedAt ?? 'never'],
      ['next count', describeNextCount(audience, nowMs)],
      ['source', audience.customerFileSource],
      ['created', audience.createdAt],
    ]),
  ];
}

/** How long `status --wait` waits at most, and how often it looks. */
const WAIT_LIMIT_MS = 15 * 60_000;
const WAIT_INTERVAL_MS = 1_000;

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
      .option('--session <id>', 'also show this upload session (the id `audiences upload` printed)')
      .option('--wait', 'wait (up to 15 minutes) until the audience is no longer processing and the session, if given, is done'),
  ).action(async (audienceId: string, flags: CommonFlags & { session?: string; wait?: boolean }) => {
    await execute(ctx, flags, async () => {
      const sessionId = flags.session === undefined ? undefined : parseSessionId(flags.session);
      const client = makeClient(ctx, flags);
      const sleep = ctx.io.client?.sleep ?? ((ms: number) => new Promise<void>((done) => setTimeout(done, ms)));
      const started = Date.now();
      let audience: Audience;
      let session: UploadSession | undefined;
      for (;;) {
        // The session first: once it is done, the audience read after it shows its settled state.
        session = sessionId === undefined ? undefined : await api.getSession(client, audienceId, sessionId);
        audience = await api.getAudience(client, audienceId);
        const waiting = audience.status === 'processing' || (session !== undefined && session.stage !== 'done');
        if (!flags.wait || !waiting) break;
        if (Date.now() - started >= WAIT_LIMIT_MS) throw new CliError('The audience was still processing after 15 minutes; look again later.');
        await sleep(WAIT_INTERVAL_MS);
      }
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
