import { jittered, optimistic, retry } from '../../functions/shared/retry';

class GaveUp extends Error {}

/** An attempt that answers `retry(pauseMs)` until its `succeedOn`-th call, then `value`. */
function attemptsUntil<T>(succeedOn: number, value: T, pauseMs = 0) {
  return jest.fn(async (n: number) => (n >= succeedOn ? value : retry(pauseMs)));
}

afterEach(() => {
  jest.useRealTimers();
  jest.restoreAllMocks();
});

describe('optimistic', () => {
  it("returns the first attempt's value without trying again", async () => {
    // Prepare
    const attempt = attemptsUntil(1, { kind: 'done' });
    // Act
    const value = await optimistic({ attempts: 3, exhausted: () => new GaveUp() }, attempt);
    // Assess
    expect(value).toEqual({ kind: 'done' });
    expect(attempt.mock.calls).toEqual([[1]]);
  });

  it('starts over while the attempt says retry, numbering the attempts, and returns the value that ends it', async () => {
    const attempt = attemptsUntil(3, 'third time');
    await expect(optimistic({ attempts: 5, exhausted: () => new GaveUp() }, attempt)).resolves.toBe('third time');
    expect(attempt.mock.calls).toEqual([[1], [2], [3]]);
  });

  it('returns falsy values as values, not as a reason to retry', async () => {
    for (const value of [undefined, null, false, 0, '']) {
      const attempt = jest.fn(async () => value);
      await expect(optimistic({ attempts: 2, exhausted: () => new GaveUp() }, attempt)).resolves.toBe(value);
      expect(attempt).toHaveBeenCalledTimes(1);
    }
  });

  it('throws what `exhausted` gives after the last allowed attempt, never making another', async () => {
    // Prepare
    const givenUp = new GaveUp('too many');
    const attempt = attemptsUntil(Infinity, 'never');
    // Act
    const outcome = optimistic({ attempts: 4, exhausted: () => givenUp }, attempt);
    // Assess
    await expect(outcome).rejects.toBe(givenUp);
    expect(attempt).toHaveBeenCalledTimes(4);
  });

  it('succeeds on exactly the last allowed attempt', async () => {
    const attempt = attemptsUntil(4, 'just in time');
    await expect(optimistic({ attempts: 4, exhausted: () => new GaveUp() }, attempt)).resolves.toBe('just in time');
  });

  it('rethrows an error of an attempt at once, without trying again', async () => {
    const failure = new Error('network');
    const attempt = jest.fn(async () => {
      throw failure;
    });
    await expect(optimistic({ attempts: 5, exhausted: () => new GaveUp() }, attempt)).rejects.toBe(failure);
    expect(attempt).toHaveBeenCalledTimes(1);
  });

  it('waits the pause an attempt asks for before the next attempt', async () => {
    // Prepare
    jest.useFakeTimers();
    const attempt = attemptsUntil(2, 'after the pause', 1_000);
    // Act
    const outcome = optimistic({ attempts: 3, exhausted: () => new GaveUp() }, attempt);
    await jest.advanceTimersByTimeAsync(999);
    const callsBefore = attempt.mock.calls.length;
    await jest.advanceTimersByTimeAsync(1);
    // Assess
    expect(callsBefore).toBe(1);
    expect(attempt).toHaveBeenCalledTimes(2);
    await expect(outcome).resolves.toBe('after the pause');
  });

  it('does not wait for a retry without a pause', async () => {
    jest.useFakeTimers();
    const attempt = attemptsUntil(3, 'at once');
    // No timer is advanced: a pause would leave the promise pending and the test would time out.
    await expect(optimistic({ attempts: 3, exhausted: () => new GaveUp() }, attempt)).resolves.toBe('at once');
    expect(jest.getTimerCount()).toBe(0);
  });

  it('gives up once the pauses reach their budget, whatever the number of attempts', async () => {
    // Prepare: pauses of 100 ms within 250 ms: after three pauses (300 ms) the fourth retry gives up
    jest.useFakeTimers();
    const givenUp = new GaveUp('busy');
    const attempt = attemptsUntil(Infinity, 'never', 100);
    // Act
    const outcome = optimistic({ pausesWithinMs: 250, exhausted: () => givenUp }, attempt);
    const settled = expect(outcome).rejects.toBe(givenUp);
    await jest.advanceTimersByTimeAsync(1_000);
    // Assess
    await settled;
    expect(attempt).toHaveBeenCalledTimes(4);
  });

  it('stops at whichever limit comes first', async () => {
    jest.useFakeTimers();
    const attempt = attemptsUntil(Infinity, 'never', 10);
    const outcome = optimistic({ attempts: 2, pausesWithinMs: 10_000, exhausted: () => new GaveUp('attempts') }, attempt);
    const settled = expect(outcome).rejects.toThrow('attempts');
    await jest.advanceTimersByTimeAsync(100);
    await settled;
    expect(attempt).toHaveBeenCalledTimes(2);
  });
});

describe('jittered', () => {
  it('spreads a pause over [ms/2, 3ms/2)', () => {
    const random = jest.spyOn(Math, 'random');
    random.mockReturnValueOnce(0);
    expect(jittered(100)).toBe(50);
    random.mockReturnValueOnce(0.5);
    expect(jittered(100)).toBe(100);
    random.mockReturnValueOnce(0.999);
    expect(jittered(100)).toBe(150);
    random.mockReturnValueOnce(0.999);
    expect(jittered(1_000)).toBeLessThan(1_500);
  });
});
