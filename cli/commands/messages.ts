/** `audiences messages send` and `audiences messages status`. The CLI never encrypts: it carries ciphertext made elsewhere. */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { messageCategoryValues } from '../../client/api';
import { normalisePhone } from '../../client/identifiers';
import { api, type MessageCategory, type MessageReceipt } from '../api';
import { type CommonFlags, type Context, execute, makeClient, table, withCommonOptions } from '../context';
import { countryCode } from '../csv';
import { UsageError } from '../errors';

/** The contract's limit on decoded ciphertext. */
export const MAX_CIPHERTEXT_BYTES = 64 * 1024;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

interface SendFlags extends CommonFlags {
  readonly to: string;
  readonly country?: string;
  readonly category: MessageCategory;
  readonly ciphertext?: string;
  readonly ciphertextFile?: string;
  readonly fileEncoding: 'binary' | 'base64';
  readonly clientMessageId?: string;
}

const SEND_HELP = `
The CLI does not encrypt. Messages are end-to-end encrypted: encrypt the
message for the recipient with your own E2E library first, then pass the
ciphertext here (--ciphertext-file for the bytes it wrote, or --ciphertext
with base64). The service stores and forwards the ciphertext and never
decodes it; it keeps an undelivered message for 30 days.

Each send carries a client message id (generated when you give none) so a
retried request never sends the message twice; pass your own to make
re-running the command safe too.`;

/** The recipient in E.164; its value is never echoed in an error. */
export function recipient(to: string, country: string | undefined): string {
  const trimmed = to.trim();
  if (!trimmed.startsWith('+') && country === undefined) throw new UsageError('--to must start with + and a country code, or come with --country');
  if (country !== undefined && !countryCode(country)) throw new UsageError(`--country must be an ISO 3166-1 alpha-2 code such as US or GB (got "${country}")`);
  const e164 = normalisePhone(trimmed, country?.trim().toUpperCase());
  if (!e164) throw new UsageError('--to is not a valid phone number');
  return e164;
}

export async function ciphertextOf(flags: Pick<SendFlags, 'ciphertext' | 'ciphertextFile' | 'fileEncoding'>): Promise<string> {
  if ((flags.ciphertext === undefined) === (flags.ciphertextFile === undefined)) {
    throw new UsageError('give exactly one of --ciphertext <base64> and --ciphertext-file <path>');
  }
  let base64: string;
  if (flags.ciphertext !== undefined) {
    base64 = flags.ciphertext.trim();
  } else {
    let bytes: Buffer;
    try {
      bytes = flags.ciphertextFile === '-' ? readFileSync(0) : await readFile(flags.ciphertextFile as string);
    } catch (error) {
      throw new UsageError(`cannot read --ciphertext-file: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    base64 = flags.fileEncoding === 'base64' ? bytes.toString('utf8').replace(/\s+/g, '') : bytes.toString('base64');
  }
  if (base64 === '' || !BASE64.test(base64)) throw new UsageError('the ciphertext is not base64');
  if (Buffer.byteLength(base64, 'base64') > MAX_CIPHERTEXT_BYTES) throw new UsageError(`the ciphertext is over ${MAX_CIPHERTEXT_BYTES / 1024} KiB`);
  return base64;
}

const messageLines = (receipt: MessageReceipt, clientMessageId?: string): string[] => [
  `Message ${receipt.messageId}: ${receipt.status}`,
  ...table([
    ['accepted', receipt.acceptedAt],
    ['expires', receipt.expiresAt],
    ...('updatedAt' in receipt ? ([['updated', receipt.updatedAt]] as Array<[string, string]>) : []),
    ...(clientMessageId !== undefined ? ([['client message id', clientMessageId]] as Array<[string, string]>) : []),
  ]),
];

export function registerMessageCommands(program: Command, ctx: Context): void {
  const messages = program.command('messages').description('send end-to-end encrypted transactional messages (receipts, reservations, delivery updates)');

  withCommonOptions(
    messages
      .command('send')
      .description('send an already encrypted message to a registered user (this CLI does not encrypt)')
      .requiredOption('--to <phone>', 'recipient: +E.164, or a national number with --country')
      .option('--country <ISO>', 'ISO 3166-1 alpha-2 country of a national --to number')
      .addOption(new Option('--category <category>', 'message category').choices(messageCategoryValues).makeOptionMandatory())
      .option('--ciphertext <base64>', 'the encrypted message, base64')
      .option('--ciphertext-file <path>', 'file with the encrypted message ("-" for stdin)')
      .addOption(new Option('--file-encoding <encoding>', 'how --ciphertext-file is written').choices(['binary', 'base64']).default('binary'))
      .option('--client-message-id <id>', 'your id for this message: sending it again returns the same message')
      .addHelpText('after', SEND_HELP),
  ).action(async (flags: SendFlags) => {
    await execute(ctx, flags, async () => {
      const to = recipient(flags.to, flags.country);
      const ciphertext = await ciphertextOf(flags);
      const clientMessageId = flags.clientMessageId?.trim() || randomUUID();
      const receipt = await api.sendMessage(makeClient(ctx, flags), { to, category: flags.category, ciphertext, clientMessageId });
      return { json: { ...receipt, clientMessageId }, text: messageLines(receipt, clientMessageId) };
    });
  });

  withCommonOptions(messages.command('status').description("show a sent message's status").argument('<message-id>', 'the message id')).action(
    async (messageId: string, flags: CommonFlags) => {
      await execute(ctx, flags, async () => {
        const receipt = await api.getMessage(makeClient(ctx, flags), messageId);
        return { json: receipt, text: messageLines(receipt) };
      });
    },
  );
}
