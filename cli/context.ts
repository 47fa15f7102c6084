/**
 * What every command shares: the process's streams and environment (injected,
 * so tests run commands in process), the connection options, and one way to
 * print a result or an error, readable or as a single JSON document.
 */
import type { Command } from 'commander';
import { ClientCryptoError } from '../client/errors';
import {
  ApiError,
  clientFrom,
  DEFAULT_LOCAL_BUSINESS,
  DEFAULT_LOCAL_USER,
  type ApiClient,
  type ApiClientOptions,
  type ConnectionFlags,
  NetworkError,
} from './api';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './errors';

export interface OutputStream {
  write(chunk: string): boolean;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface Io {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: NodeJS.ProcessEnv;
  /** Client settings for tests (retry delays, fetch). */
  readonly client?: Omit<ApiClientOptions, 'baseUrl' | 'token'>;
}

export interface Context {
  readonly io: Io;
  exitCode: number;
}

export interface CommonFlags extends ConnectionFlags {
  readonly json?: boolean;
}

/** Adds --url, --token, --local-business and --json to a command. */
export function withCommonOptions(command: Command): Command {
  return command
    .option('--url <url>', 'API base URL (env AUDIENCES_API_URL; default http://127.0.0.1:3000, the local stack)')
    .option('--token <jwt>', 'business bearer token (env AUDIENCES_TOKEN)')
    .option(
      '--local-business <id>',
      `local stack only: without a token, get one for this business id from POST /_local/token (env AUDIENCES_LOCAL_BUSINESS; default ${DEFAULT_LOCAL_BUSINESS})`,
    )
    .option('--json', 'print one JSON document on stdout instead of readable text');
}

/** Adds --url, --token (a user's), --local-user and --json to a command of the user's side. */
export function withUserOptions(command: Command): Command {
  return command
    .option('--url <url>', 'API base URL (env AUDIENCES_API_URL; default http://127.0.0.1:3000, the local stack)')
    .option('--token <jwt>', "the user's bearer token (env AUDIENCES_USER_TOKEN)")
    .option(
      '--local-user <id>',
      `local stack only: without a token, get one for this user id from POST /_local/token (env AUDIENCES_LOCAL_USER; default ${DEFAULT_LOCAL_USER})`,
    )
    .option('--json', 'print one JSON document on stdout instead of readable text');
}

export function makeClient(ctx: Context, flags: ConnectionFlags, extra: Omit<ApiClientOptions, 'baseUrl' | 'token'> = {}): ApiClient {
  return clientFrom(flags, ctx.io.env, { ...ctx.io.client, ...extra });
}

/** A client acting as a user (the inbox commands). */
export function makeUserClient(ctx: Context, flags: ConnectionFlags): ApiClient {
  return clientFrom(flags, ctx.io.env, { ...ctx.io.client }, 'user');
}

export interface CommandOutput {
  /** The `--json` document. */
  readonly json: unknown;
  /** Readable lines for stdout. */
  readonly text: readonly string[];
}

function errorDocument(error: unknown): Record<string, unknown> {
  if (error instanceof ApiError) return { kind: 'api', message: error.message, ...error.toJSON() };
  if (error instanceof UsageError) return { kind: 'usage', message: error.message };
  if (error instanceof NetworkError) return { kind: 'network', message: error.message };
  if (error instanceof ClientCryptoError) return { kind: 'crypto', code: error.code, message: error.message };
  if (error instanceof CliError) {
    const cause = error.cause;
    return {
      kind: 'failure',
      message: error.message,
      ...error.details,
      ...(cause instanceof ApiError && { cause: { kind: 'api', ...cause.toJSON() } }),
      ...(cause instanceof NetworkError && { cause: { kind: 'network', message: cause.message } }),
    };
  }
  return { kind: 'failure', message: 'unexpected error' };
}

/** The exit code an error maps to: 2 for usage errors, 1 otherwise. */
export const exitCodeOf = (error: unknown): number => (error instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE);

/**
 * Runs a command body and prints its output: readable lines on stdout, or its
 * JSON document. An error goes to stderr as one readable line plus `hints`
 * (and, with --json, also as `{"error": {...}}` on stdout). Unknown errors
 * print their message only when AUDIENCES_DEBUG is set, since an unexpected
 * error's text could in principle quote input.
 */
export async function execute(ctx: Context, flags: CommonFlags, body: () => Promise<CommandOutput>, hints?: (error: unknown) => string[]): Promise<void> {
  const { stdout, stderr } = ctx.io;
  try {
    const output = await body();
    if (flags.json) stdout.write(`${JSON.stringify(output.json, null, 2)}\n`);
    else for (const line of output.text) stdout.write(`${line}\n`);
    ctx.exitCode = EXIT_OK;
  } catch (error) {
    // A ClientCryptoError's message is fixed text of the library: never a key, a ciphertext or a plaintext.
    const known =
      error instanceof ApiError ||
      error instanceof UsageError ||
      error instanceof NetworkError ||
      error instanceof CliError ||
      error instanceof ClientCryptoError;
    const message = known ? (error as Error).message : 'unexpected error';
    stderr.write(`audiences: ${error instanceof UsageError ? 'usage error' : 'error'}: ${message}\n`);
    for (const line of hints?.(error) ?? []) stderr.write(`  ${line}\n`);
    if (!known && ctx.io.env.AUDIENCES_DEBUG) stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
    if (flags.json) stdout.write(`${JSON.stringify({ error: errorDocument(error) }, null, 2)}\n`);
    ctx.exitCode = exitCodeOf(error);
  }
}

/** Aligned "label: value" lines. */
export function table(rows: ReadonlyArray<readonly [string, string]>, indent = '  '): string[] {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${indent}${`${label}:`.padEnd(width + 2)}${value}`);
}

export const count = (n: number): string => n.toLocaleString('en-US');
