/** Exit codes of every command. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Bad arguments or input the user must fix: exit code 2. Its message never contains a CSV cell. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure with a readable message and optional machine-readable details for `--json`. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
