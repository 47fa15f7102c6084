/** `audiences upload` and `audiences remove`: a CSV, hashed here, sent in resumable batches. */
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { ApiError, NetworkError } from '../api';
import { type CommonFlags, type Context, count, execute, makeClient, table, withCommonOptions } from '../context';
import { UsageError } from '../errors';
import { MAX_BATCH_ROWS, type Operation, parseSessionId, runUpload, UploadInterrupted, type UploadResult } from '../upload';

interface TransferFlags extends CommonFlags {
  readonly audience: string;
  readonly country: string;
  readonly session?: string;
  readonly phoneColumn?: string;
  readonly emailColumn?: string;
  readonly countryColumn?: string;
  readonly delimiter?: string;
  readonly batchSize?: string;
  readonly stateDir?: string;
}

const CSV_HELP = `
The CSV needs a header row. Phone and email columns are found by name
(phone, phone_number, mobile, cell, tel, telephone, msisdn, ...; email,
e-mail, email_address, mail, ...; case, spaces and punctuation ignored) or
named with --phone-column / --email-column. A country column (country,
country_code) holding ISO codes overrides --country for its row.

Every value is normalised and SHA-256 hashed on this machine before it is
sent: phones to E.164 (digits without "+"), emails trimmed and lower-cased.
No phone number, email or hash is ever printed; rows with neither a valid
phone nor a valid email are skipped and reported by line number.

An interrupted run resumes from the last acknowledged batch: run the same
command again (with --session <id> to pick the session explicitly).`;

function parseBatchSize(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_BATCH_ROWS) throw new UsageError(`--batch-size must be an integer from 1 to ${MAX_BATCH_ROWS}`);
  return n;
}

function parseDelimiter(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const delimiter = value === '\\t' || value.toLowerCase() === 'tab' ? '\t' : value;
  if (delimiter.length !== 1 || /["\r\n]/.test(delimiter)) throw new UsageError('--delimiter must be one character (or "tab")');
  return delimiter;
}

function resultLines(result: UploadResult, file: string): string[] {
  const verb = result.operation === 'add' ? 'Uploaded' : 'Sent for removal';
  const lines: string[] = [];
  if (result.alreadyComplete) {
    lines.push(`Session ${result.sessionId} of ${file} was already complete: nothing was sent again.`);
  } else {
    lines.push(
      `${verb} ${count(result.rowsUploaded)} hashed row${result.rowsUploaded === 1 ? '' : 's'} in ${count(result.batches)} batch${result.batches === 1 ? '' : 'es'} ` +
        `(audience ${result.audienceId}, session ${result.sessionId}).`,
    );
  }
  const columns = [
    ...(result.columns.phone !== undefined ? [`phone ← ${JSON.stringify(result.columns.phone)}`] : []),
    ...(result.columns.email !== undefined ? [`email ← ${JSON.stringify(result.columns.email)}`] : []),
    ...(result.columns.country !== undefined ? [`country ← ${JSON.stringify(result.columns.country)}`] : []),
  ];
  const rows: Array<[string, string]> = [
    ['columns', columns.join(', ')],
    ['rows read', count(result.rowsRead)],
  ];
  if (result.resumed && !result.alreadyComplete) {
    rows.push(['resumed', `batches 1-${result.batchesSkipped} were acknowledged earlier and not sent again; sent ${result.batchesSent}`]);
  }
  rows.push(['server received', `${count(result.numReceived)} rows, ${count(result.numInvalid)} invalid`]);
  lines.push(...table(rows));
  if (result.skipped.count > 0) {
    lines.push(
      `Skipped ${count(result.skipped.count)} row${result.skipped.count === 1 ? '' : 's'} with neither a valid phone number nor a valid email address, ` +
        `on line${result.skipped.count === 1 ? '' : 's'} ${result.skipped.lines.join(', ')}${result.skipped.truncated ? ', ...' : ''}.`,
    );
  }
  if (result.invalidPhoneCells + result.invalidEmailCells > 0) {
    lines.push(`Unusable cells in rows that were kept: ${count(result.invalidPhoneCells)} phone, ${count(result.invalidEmailCells)} email (sent as unknown).`);
  }
  lines.push(`Matching runs in the background: audiences status ${result.audienceId} --session ${result.sessionId}`);
  return lines;
}

function registerTransfer(program: Command, ctx: Context, operation: Operation): void {
  const name = operation === 'add' ? 'upload' : 'remove';
  const command = program
    .command(name)
    .description(
      operation === 'add'
        ? 'hash the customers of a CSV on this machine and add them to an audience'
        : 'hash the customers of a CSV on this machine and remove them from an audience',
    )
    .argument('<file.csv>', 'customer list with a header row')
    .requiredOption('--audience <id>', 'the audience id (from `audiences create`)')
    .requiredOption('--country <ISO>', 'ISO 3166-1 alpha-2 country of numbers written without a country code, e.g. US')
    .option('--session <id>', 'upload session id (a positive integer) to start or resume; new by default, or the unfinished one of this file')
    .option('--phone-column <name>', 'header of the phone column (detected by default)')
    .option('--email-column <name>', 'header of the email column (detected by default)')
    .option('--country-column <name>', 'header of a per-row ISO country column (detected by default)')
    .option('--delimiter <char>', 'field delimiter: , ; tab or | (detected from the header by default)')
    .option('--batch-size <n>', `rows per request, at most ${MAX_BATCH_ROWS} (batches are also kept under 1 MiB)`)
    .option('--state-dir <dir>', 'where to keep the resume state file (default: next to the CSV)')
    .addHelpText('after', CSV_HELP);
  withCommonOptions(command).action(async (file: string, flags: TransferFlags) => {
    let bar: SingleBar | undefined;
    let sigint: (() => void) | undefined;
    await execute(
      ctx,
      flags,
      async () => {
        const sessionId = flags.session === undefined ? undefined : parseSessionId(flags.session);
        const batchSize = parseBatchSize(flags.batchSize);
        const delimiter = parseDelimiter(flags.delimiter);
        const stderr = ctx.io.stderr;
        const showProgress = !flags.json && stderr.isTTY === true;
        const client = makeClient(ctx, flags, {
          onRetry: ({ attempt, delayMs, reason }) => {
            if (!showProgress) return;
            bar?.update({ note: ` retrying (${reason}, try ${attempt + 1}) in ${Math.round(delayMs / 100) / 10}s` });
          },
        });
        let resumeHint: string | undefined;
        const result = await runUpload({
          client,
          file,
          audienceId: flags.audience,
          operation,
          country: flags.country,
          ...(sessionId !== undefined && { sessionId }),
          ...(batchSize !== undefined && { batchSize }),
          ...(delimiter !== undefined && { delimiter }),
          ...(flags.phoneColumn !== undefined && { phoneColumn: flags.phoneColumn }),
          ...(flags.emailColumn !== undefined && { emailColumn: flags.emailColumn }),
          ...(flags.countryColumn !== undefined && { countryColumn: flags.countryColumn }),
          ...(flags.stateDir !== undefined && { stateDir: flags.stateDir }),
          onStart: (start) => {
            resumeHint = `audiences ${name} ${file} --audience ${flags.audience} --country ${flags.country} --session ${start.sessionId}`;
            if (!flags.json && start.resumed) {
              stderr.write(`Resuming session ${start.sessionId} after batch ${start.resumeAfterBatchSeq}.\n`);
            }
            sigint = () => {
              bar?.stop();
              stderr.write(`\nInterrupted. Resume with: ${resumeHint}\n`);
              process.exit(130);
            };
            process.once('SIGINT', sigint);
            if (showProgress) {
              bar = new SingleBar({
                stream: stderr as NodeJS.WritableStream,
                format: ' {bar} {percentage}% | {value}/{total} rows | batch {batch}{note}',
                hideCursor: true,
                clearOnComplete: true,
                etaBuffer: 50,
              });
              bar.start(Math.max(start.estimatedTotal, 1), 0, { batch: start.resumeAfterBatchSeq, note: '' });
            }
          },
          onProgress: (progress) => {
            bar?.setTotal(Math.max(progress.estimatedTotal, progress.rowsRead, 1));
            bar?.update(progress.rowsRead, { batch: progress.lastBatchSeq, note: '' });
          },
        }).finally(() => {
          bar?.stop();
          if (sigint) process.removeListener('SIGINT', sigint);
        });
        return { json: result, text: resultLines(result, file) };
      },
      (error) => {
        if (!(error instanceof UploadInterrupted)) return [];
        const cause = error.cause;
        const retryable = cause instanceof NetworkError || (cause instanceof ApiError && (cause.status === 429 || cause.status >= 500));
        return [
          ...(error.lastAckedBatchSeq > 0 || retryable
            ? [`Resume with: audiences ${name} ${file} --audience ${flags.audience} --country ${flags.country} --session ${error.sessionId}`]
            : []),
          `(state: ${error.stateFile})`,
        ];
      },
    );
  });
}

export function registerUploadCommands(program: Command, ctx: Context): void {
  registerTransfer(program, ctx, 'add');
  registerTransfer(program, ctx, 'remove');
}
