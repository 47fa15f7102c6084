import { chunksOf, mapLimit } from '../../functions/shared/concurrency';

describe('chunksOf', () => {
  it('cuts items into consecutive slices of at most the size', () => {
    expect(chunksOf([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunksOf([1, 2, 3, 4], 2)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(chunksOf([], 25)).toEqual([]);
  });
});

describe('mapLimit', () => {
  it('keeps at most `limit` calls in flight and answers in the order of the items', async () => {
    let inFlight = 0;
    let most = 0;
    const delays = [30, 5, 20, 1, 15, 2, 10, 3];
    const results = await mapLimit(delays, 3, async (ms, i) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, ms));
      inFlight -= 1;
      return `${i}:${ms}`;
    });
    expect(most).toBe(3);
    expect(results).toEqual(delays.map((ms, i) => `${i}:${ms}`));
  });

  it('rejects with the first failure and starts no new call after it', async () => {
    const started: number[] = [];
    await expect(
      mapLimit([0, 1, 2, 3, 4, 5], 2, async (n) => {
        started.push(n);
        if (n === 1) throw new Error('boom'); // while item 0 is still in flight
        await new Promise((resolve) => setTimeout(resolve, 20));
        return n;
      }),
    ).rejects.toThrow('boom');
    await new Promise((resolve) => setTimeout(resolve, 50)); // what was in flight settles; nothing new may start
    expect(started).toEqual([0, 1]);
  });

  it('handles no items and a limit above the item count', async () => {
    expect(await mapLimit([], 8, async (x: number) => x)).toEqual([]);
    expect(await mapLimit([1, 2], 8, async (x) => x * 2)).toEqual([2, 4]);
  });
});
