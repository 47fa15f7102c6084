/**
 * `audiences verify <export.json>`: checks a user's consent receipts offline,
 * with only the export (`GET /v1/me/export` carries the receipts and the
 * keys), or against a key set given separately (`--jwks`, a file or the
 * stack's `/.well-known/jwks.json`). Says which receipt breaks the chain.
 * Exit code 0 when every receipt verifies, 1 when one does not, 2 for a
 * file that cannot be read or is not an export.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { verifyExport, type KeySet, type ReceiptExport } from '../../client/receipts';
import { type CommonFlags, type Context, execute, table } from '../context';
import { CliError, EXIT_FAILURE, UsageError } from '../errors';

interface VerifyFlags extends CommonFlags {
  readonly jwks?: string;
}

async function readJson(source: string, what: string): Promise<unknown> {
  let text: string;
  if (/^https?:\/\//.test(source)) {
    let response: Response;
    try {
      response = await fetch(source);
    } catch {
      throw new UsageError(`cannot fetch ${what}`);
    }
    if (!response.ok) throw new UsageError(`fetching ${what} answered ${response.status}`);
    text = await response.text();
  } else {
    try {
      text = await readFile(source, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read ${what}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UsageError(`${what} is not JSON`);
  }
}

export function registerVerifyCommand(program: Command, ctx: Context): void {
  program
    .command('verify')
    .description("check a user's consent receipts offline: every hash, every signature and the chain (exit 1 names the receipt that breaks it)")
    .argument('<export>', 'the JSON of GET /v1/me/export, saved to a file')
    .option('--jwks <file-or-url>', 'the key set to trust (a saved /.well-known/jwks.json, or its URL); default: the keys inside the export')
    .option('--json', 'print one JSON document on stdout instead of readable text')
    .action(async (file: string, flags: VerifyFlags) => {
      await execute(
        ctx,
        flags,
        async () => {
          const exported = (await readJson(file, 'the export')) as ReceiptExport;
          if (!exported || typeof exported !== 'object' || !Array.isArray(exported.consentHistory) || typeof exported.userId !== 'string') {
            throw new UsageError('the file is not an export of GET /v1/me/export (no userId and consentHistory)');
          }
          const keys = flags.jwks ? ((await readJson(flags.jwks, 'the key set')) as KeySet) : undefined;
          if (keys && !Array.isArray(keys.keys)) throw new UsageError('the key set has no keys array');
          let result: Awaited<ReturnType<typeof verifyExport>>;
          try {
            result = await verifyExport(exported, keys);
          } catch (error) {
            throw new UsageError((error as Error).message);
          }
          const summary = table([
            ['receipts', String(result.receipts)],
            ['signed', String(result.signed)],
            ['unsigned', `${result.unsigned}${result.unsigned > 0 ? ' (recorded before receipts were signed)' : ''}`],
            [
              'keys',
              `${result.keyIds.join(', ') || 'none'} (${result.keySource === 'given' ? 'from --jwks' : 'from the export itself; pass --jwks to check them against the published set'})`,
            ],
          ]);
          if (!result.ok) {
            const first = result.problems[0]!;
            throw new CliError(
              `the chain breaks at receipt ${first.index + 1} of ${result.receipts} (version ${first.version}, id ${first.receiptId}): ${first.detail}`,
              { verification: result },
            );
          }
          return {
            json: result,
            text: [
              `${result.receipts === 1 ? 'The receipt verifies' : `All ${result.receipts} receipts verify`}: every hash, every signature, and the chain.`,
              ...summary,
            ],
          };
        },
        (error) =>
          error instanceof CliError && (error.details as { verification?: { problems: { index: number; version: number; detail: string }[] } }).verification
            ? (error.details as { verification: { problems: { index: number; version: number; detail: string }[] } }).verification.problems.map(
                (p) => `receipt ${p.index + 1} (version ${p.version}): ${p.detail}`,
              )
            : [],
      );
      if (ctx.exitCode !== 0 && ctx.exitCode !== 2) ctx.exitCode = EXIT_FAILURE;
    });
}
