import { logger } from '../../functions/shared/observability';

/**
 * Spies on every log level of the functions' logger for each test (restored by
 * `jest.restoreAllMocks()`); `logged()` is everything logged so far, as one
 * string, for tests that check a value never reaches a log line.
 */
export function spyOnLogs(): { logged: () => string } {
  let spies: jest.SpyInstance[] = [];
  beforeEach(() => {
    spies = (['debug', 'info', 'warn', 'error'] as const).map((level) => jest.spyOn(logger, level));
  });
  return { logged: () => JSON.stringify(spies.map((s) => s.mock.calls)) };
}
