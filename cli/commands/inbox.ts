/**
 * `audiences inbox ...`: the user's side of business messages, from a key
 * file, for trying a deployment end to end (the app does the same on the
 * device, with the key in its key store):
 *
 * - `inbox key`: generates an X25519 key pair into a key file (mode 0600,
 *   never overwritten) unless the file exists, and publishes its public key
 *   (PUT /v1/me/keys); the private key never leaves the file;
 * - `inbox read`: lists the user's messages and opens each with the key file
 *   (`--ack` acknowledges the ones it opened);
 * - `inbox block`, `inbox unblock`, `inbox blocks`: the businesses the user
 *   blocks.
 *
 * It acts as a user: `--token` / AUDIENCES_USER_TOKEN, or, against the local
 * stack, a token for `--local-user`.
 */
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { createKeyFile, readKeyFile, setKeyFileKeyId, type FileKey } from '../../client/keyfile';
import { acknowledge, blockBusiness, blocks, openInbox, publishKey, unblockBusiness, type OpenedMessage } from '../../client/messages';
import { type CommonFlags, type Context, execute, makeUserClient, table, withUserOptions } from '../context';
import type { ConnectionFlags } from '../api';
import { UsageError } from '../errors';

interface UserFlags extends CommonFlags, ConnectionFlags {
  readonly keyFile: string;
}

interface ReadFlags extends UserFlags {
  readonly ack?: boolean;
}

const KEY_HELP = `
The key file holds the private key (a JWK, RFC 8037) and is written with mode
0600; it is never overwritten, and a file other users can read is refused.
Run the command again with the same file to publish the same key again (the
service answers with the same keyId). Publishing another key replaces the
account's key: businesses seal to the new one from then on, and messages
sealed to an older key open only with that key's file.`;

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new UsageError(`cannot read --key-file: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/**
 * Text a business wrote, made safe for a terminal: control characters (an
 * escape sequence could rewrite what the screen shows) become U+FFFD; line
 * breaks and tabs stay.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  return text.replace(/\r\n/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, '\ufffd');
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

const FAILURES: Record<string, string> = {
  'no-key': 'sealed to another key of this account (keyId %s); open it with that key file',
  'open-failed': 'does not open with this key: it was sealed to another key, or altered',
  'malformed-ciphertext': 'is not a sealed message',
  'invalid-payload': 'opened, but holds no text',
};

function messageLines(message: OpenedMessage): string[] {
  const head = `Message ${message.messageId}: ${message.category} from ${message.from}, accepted ${message.acceptedAt}`;
  if (message.payload)
    return [
      head,
      ...printable(message.payload.text)
        .split('\n')
        .map((line) => `  ${line}`),
    ];
  const why = (FAILURES[message.failure] ?? `cannot be opened (${message.failure})`).replace('%s', message.keyId);
  return [head, `  (${why})`];
}

export function registerInboxCommands(program: Command, ctx: Context): void {
  const inbox = program
    .command('inbox')
    .description("the user's side, from a key file: publish a message key, read and acknowledge messages, block businesses");

  withUserOptions(
    inbox
      .command('key')
      .description('create a key file (unless it exists) and publish its public key for the account')
      .requiredOption('--key-file <path>', 'the key file (created with mode 0600 when missing)')
      .addHelpText('after', KEY_HELP),
  ).action(async (flags: UserFlags) => {
    await execute(ctx, flags, async () => {
      const client = makeUserClient(ctx, flags);
      const created = !(await exists(flags.keyFile));
      const file: FileKey = created ? await createKeyFile(flags.keyFile) : await readKeyFile(flags.keyFile);
      const published = await publishKey(client.api, file.publicKey);
      if (file.keyId !== published.keyId) await setKeyFileKeyId(flags.keyFile, published.keyId);
      return {
        json: { ...published, keyFile: flags.keyFile, created },
        text: [
          `Published key ${published.keyId}: businesses now seal this account's messages to it.`,
          ...table([
            ['key file', `${flags.keyFile} (${created ? 'new; ' : ''}the private key stays in it)`],
            ['public key', published.publicKey],
          ]),
        ],
      };
    });
  });

  withUserOptions(
    inbox
      .command('read')
      .description("list the account's undelivered messages and open them with the key file")
      .requiredOption('--key-file <path>', 'the key file the messages were sealed to')
      .option('--ack', 'acknowledge the messages that opened: they leave the service and their senders see them delivered'),
  ).action(async (flags: ReadFlags) => {
    await execute(ctx, flags, async () => {
      const file = await readKeyFile(flags.keyFile);
      const client = makeUserClient(ctx, flags);
      const messages = await openInbox(client.api, (keyId) => (keyId === file.keyId || file.keyId === undefined ? file.keyPair : undefined));
      const opened = messages.filter((m) => m.payload !== undefined).map((m) => m.messageId);
      const acknowledged = flags.ack && opened.length > 0 ? await acknowledge(client.api, opened) : 0;
      return {
        json: { items: messages, ...(flags.ack && { acknowledged }) },
        text: [
          messages.length === 0 ? 'No messages.' : `${plural(messages.length, 'message')}, ${opened.length} opened:`,
          ...messages.flatMap(messageLines),
          ...(flags.ack && messages.length > 0 ? [`Acknowledged ${plural(acknowledged, 'message')}.`] : []),
        ],
      };
    });
  });

  const blockCommand = (name: 'block' | 'unblock', description: string, act: typeof blockBusiness) =>
    withUserOptions(inbox.command(name).description(description).argument('<business-id>', 'the business, as the "from" of its messages')).action(
      async (businessId: string, flags: CommonFlags & ConnectionFlags) => {
        await execute(ctx, flags, async () => {
          await act(makeUserClient(ctx, flags).api, businessId);
          const done = name === 'block' ? 'Blocked' : 'Unblocked';
          return { json: { businessId, blocked: name === 'block' }, text: [`${done} ${businessId}.`] };
        });
      },
    );
  blockCommand('block', 'receive nothing more from a business (to it, the account looks like one that stays offline)', blockBusiness);
  blockCommand('unblock', 'receive messages from a business again (what it sent meanwhile stays undelivered)', unblockBusiness);

  withUserOptions(inbox.command('blocks').description('the businesses the account blocks')).action(async (flags: CommonFlags & ConnectionFlags) => {
    await execute(ctx, flags, async () => {
      const items = await blocks(makeUserClient(ctx, flags).api);
      return {
        json: { items },
        text: items.length === 0 ? ['No blocked businesses.'] : items.map((b) => `${b.businessId} (blocked ${b.blockedAt})`),
      };
    });
  });
}
