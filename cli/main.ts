/**
 * The `audiences` command line: custom audiences from customer CSVs hashed on
 * the business's own machine, and end-to-end encrypted business messages.
 *
 * `run(argv, io)` is the whole program; `cli/bin.cjs` calls it with the
 * process's streams, tests call it in process.
 */
import { Command, CommanderError } from 'commander';
import { registerAudienceCommands } from './commands/audiences';
import { registerInboxCommands } from './commands/inbox';
import { registerMessageCommands } from './commands/messages';
import { registerUploadCommands } from './commands/upload';
import { registerVerifyCommand } from './commands/verify';
import type { Context, Io } from './context';
import { EXIT_OK, EXIT_USAGE } from './errors';

export const VERSION = '0.1.0';

const EPILOGUE = `
Connection: --url / AUDIENCES_API_URL (default http://127.0.0.1:3000, the
local stack) and --token / AUDIENCES_TOKEN (a business token). Against the
local stack a token is fetched for --local-business (default local-business)
when none is given. The inbox commands act as a user: --token /
AUDIENCES_USER_TOKEN, or --local-user against the local stack.

Exit codes: 0 success, 1 failure (API or network error, nothing uploaded),
2 usage error (bad arguments, unreadable or unusable CSV).`;

export function buildProgram(ctx: Context): Command {
  const program = new Command('audiences')
    .description('Consent-aware custom audiences and end-to-end encrypted business messages, from the command line.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EPILOGUE)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.io.stdout.write(text),
      writeErr: (text) => ctx.io.stderr.write(text),
    });
  registerAudienceCommands(program, ctx);
  registerUploadCommands(program, ctx);
  // Subcommands made with .command() inherit exitOverride, configureOutput and showHelpAfterError from the program.
  registerMessageCommands(program, ctx);
  registerInboxCommands(program, ctx);
  registerVerifyCommand(program, ctx);
  return program;
}

/** Runs the CLI with user arguments (no `node` / script name); resolves with the exit code. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const ctx: Context = { io, exitCode: EXIT_OK };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version print and succeed; any other commander error is a usage error.
      if (error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') {
        return EXIT_OK;
      }
      // commander has printed the error on stderr; --json still gets its one document.
      if (argv.includes('--json')) {
        io.stdout.write(`${JSON.stringify({ error: { kind: 'usage', message: error.message.replace(/^error: /, '') } }, null, 2)}\n`);
      }
      return EXIT_USAGE;
    }
    throw error;
  }
  return ctx.exitCode;
}
