/**
 * `audiences messages send | key | status`: end-to-end encrypted messages from
 * a business. With `--text` or `--file` the CLI looks up the recipient's
 * public key, seals the message to it on this machine (HPKE, through the
 * client library) and sends only the ciphertext; with `--ciphertext` or
 * `--ciphertext-file` it carries a message sealed elsewhere.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { messageCategoryValues } from '../../client/api';
import { ClientCryptoError } from '../../client/errors';
import { normalisePhone } from '../../client/identifiers';
import { recipientKey, sendMessage, sendSealed } from '../../client/messages';
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
  readonly text?: string;
  readonly file?: string;
  readonly ciphertext?: string;
  readonly ciphertextFile?: string;
  readonly keyId?: string;
  readonly fileEncoding: 'binary' | 'base64';
  readonly clientMessageId?: string;
}

const SEND_HELP = `
Messages are end-to-end encrypted. With --text or --file the CLI fetches the
recipient's public key (GET /v1/recipients/{phoneNumber}/key), seals the
message to it on this machine (HPKE, RFC 9180: X25519, HKDF-SHA256,
ChaCha20-Poly1305, as the API contract names it) and sends only the
ciphertext: the text never leaves this machine. If the recipient replaced
their key meanwhile, it fetches the new one and seals again.

Senders with their own HPKE pass what they sealed with --ciphertext (base64)
or --ciphertext-file, and the --key-id of the key they sealed to
(\`audiences messages key --to ...\` prints both). The service stores and
forwards the ciphertext and never decodes it; it keeps an undelivered message
for 30 days.

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

type Content = { kind: 'text'; text: string } | { kind: 'ciphertext'; base64: string; keyId: string };

const readInput = async (path: string, flag: string): Promise<Buffer> => {
  try {
    return path === '-' ? readFileSync(0) : await readFile(path);
  } catch (error) {
    throw new UsageError(`cannot read ${flag}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
};

/** What to send: plaintext to seal, or a ciphertext sealed elsewhere (with its keyId). Never echoes the content. */
export async function contentOf(flags: Pick<SendFlags, 'text' | 'file' | 'ciphertext' | 'ciphertextFile' | 'fileEncoding' | 'keyId'>): Promise<Content> {
  const given = (['text', 'file', 'ciphertext', 'ciphertextFile'] as const).filter((name) => flags[name] !== undefined);
  if (given.length !== 1) throw new UsageError('give exactly one of --text <text>, --file <path>, --ciphertext <base64> and --ciphertext-file <path>');
  if (flags.text !== undefined || flags.file !== undefined) {
    if (flags.keyId !== undefined)
      throw new UsageError('--key-id goes with --ciphertext or --ciphertext-file; with --text or --file the CLI fetches the key itself');
    let text: string;
    if (flags.text !== undefined) text = flags.text;
    else {
      const bytes = await readInput(flags.file as string, '--file');
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        throw new UsageError('--file is not UTF-8 text');
      }
    }
    if (text.trim() === '') throw new UsageError('the message text is empty');
    return { kind: 'text', text };
  }
  if (flags.keyId === undefined || flags.keyId.trim() === '') {
    throw new UsageError('--ciphertext and --ciphertext-file need the --key-id of the recipient key the message was sealed to');
  }
  let base64: string;
  if (flags.ciphertext !== undefined) {
    base64 = flags.ciphertext.trim();
  } else {
    const bytes = await readInput(flags.ciphertextFile as string, '--ciphertext-file');
    base64 = flags.fileEncoding === 'base64' ? bytes.toString('utf8').replace(/\s+/g, '') : bytes.toString('base64');
  }
  if (base64 === '' || !BASE64.test(base64)) throw new UsageError('the ciphertext is not base64');
  if (Buffer.byteLength(base64, 'base64') > MAX_CIPHERTEXT_BYTES) throw new UsageError(`the ciphertext is over ${MAX_CIPHERTEXT_BYTES / 1024} KiB`);
  return { kind: 'ciphertext', base64, keyId: flags.keyId.trim() };
}

const messageLines = (receipt: MessageReceipt, extra: Array<[string, string]> = []): string[] => [
  `Message ${receipt.messageId}: ${receipt.status}`,
  ...table([
    ['accepted', receipt.acceptedAt],
    ['expires', receipt.expiresAt],
    ...('updatedAt' in receipt ? ([['updated', receipt.updatedAt]] as Array<[string, string]>) : []),
    ...extra,
  ]),
];

export function registerMessageCommands(program: Command, ctx: Context): void {
  const messages = program.command('messages').description('send end-to-end encrypted transactional messages (receipts, reservations, delivery updates)');

  withCommonOptions(
    messages
      .command('send')
      .description("seal a message to a registered user's key and send it (or send one sealed elsewhere)")
      .requiredOption('--to <phone>', 'recipient: +E.164, or a national number with --country')
      .option('--country <ISO>', 'ISO 3166-1 alpha-2 country of a national --to number')
      .addOption(new Option('--category <category>', 'message category').choices(messageCategoryValues).makeOptionMandatory())
      .option('--text <text>', 'the message text, sealed here before it is sent')
      .option('--file <path>', 'a UTF-8 file with the message text, sealed here before it is sent ("-" for stdin)')
      .option('--ciphertext <base64>', 'a message you sealed yourself, base64 (needs --key-id)')
      .option('--ciphertext-file <path>', 'file with a message you sealed yourself ("-" for stdin; needs --key-id)')
      .option('--key-id <id>', 'with --ciphertext(-file): the keyId of the recipient key it was sealed to')
      .addOption(new Option('--file-encoding <encoding>', 'how --ciphertext-file is written').choices(['binary', 'base64']).default('binary'))
      .option('--client-message-id <id>', 'your id for this message: sending it again returns the same message')
      .addHelpText('after', SEND_HELP),
  ).action(async (flags: SendFlags) => {
    await execute(ctx, flags, async () => {
      const to = recipient(flags.to, flags.country);
      const content = await contentOf(flags);
      const clientMessageId = flags.clientMessageId?.trim() || randomUUID();
      const client = makeClient(ctx, flags);
      // clientMessageId makes the send safe to repeat.
      const send = { fetch: client.sender({ idempotent: true }) };
      let receipt: MessageReceipt;
      let keyId: string;
      if (content.kind === 'text') {
        try {
          ({ keyId, ...receipt } = await sendSealed(client.api, { to, category: flags.category, payload: { text: content.text }, clientMessageId }, { send }));
        } catch (error) {
          if (error instanceof ClientCryptoError && error.code === 'payload-too-large') throw new UsageError(`the message is too long: ${error.message}`);
          throw error;
        }
      } else {
        keyId = content.keyId;
        receipt = await sendMessage(client.api, { to, category: flags.category, keyId, ciphertext: content.base64, clientMessageId }, send);
      }
      return {
        json: { ...receipt, clientMessageId, keyId },
        text: messageLines(receipt, [
          ['client message id', clientMessageId],
          ['sealed to key', keyId],
        ]),
      };
    });
  });

  withCommonOptions(
    messages
      .command('key')
      .description("a registered user's current public key and keyId, for sealing a message with your own HPKE (counts as reaching the recipient)")
      .requiredOption('--to <phone>', 'recipient: +E.164, or a national number with --country')
      .option('--country <ISO>', 'ISO 3166-1 alpha-2 country of a national --to number'),
  ).action(async (flags: CommonFlags & { to: string; country?: string }) => {
    await execute(ctx, flags, async () => {
      const key = await recipientKey(makeClient(ctx, flags).api, recipient(flags.to, flags.country));
      return {
        json: key,
        text: [
          `Key ${key.keyId}`,
          ...table([
            ['public key', key.publicKey],
            ['format', 'X25519, base64url (RFC 4648 section 5) of the 32 raw bytes'],
          ]),
        ],
      };
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
