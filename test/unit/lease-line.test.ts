import { attemptStartMs } from '../../functions/core/matching';
import { LeaseLine } from '../../functions/services/matching';
import { LEASE_MS } from '../../functions/tables/audiences';

/** Whether a promise has settled, without waiting for it. */
async function settled<T>(p: Promise<T>): Promise<{ done: boolean; value?: T; error?: unknown }> {
  const state: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (value) => Object.assign(state, { done: true, value }),
    (error: unknown) => Object.assign(state, { done: true, error }),
  );
  await new Promise((r) => setImmediate(r));
  return state;
}

describe('LeaseLine (the chunks of one invocation in line for their audiences)', () => {
  it('lets the first chunk of an audience poll at once and keeps the next waiting until the turn passes', async () => {
    const line = new LeaseLine();
    expect(await line.turn('a')).toBeUndefined();
    const second = line.turn('a');
    expect((await settled(second)).done).toBe(false);
    line.pass('a');
    expect(await second).toBeUndefined(); // nothing was offered: it polls for the lease itself
  });

  it('offers a hand-over only while a chunk waits, with a lease id of its own time, the same one however often asked in a turn', async () => {
    const line = new LeaseLine();
    await line.turn('a');
    expect(line.offer('a', 1_000)).toBeUndefined();
    const second = line.turn('a');
    const offer = line.offer('a', 5_000)!;
    expect(offer.untilMs).toBe(5_000 + LEASE_MS);
    expect(attemptStartMs(`chunk/${offer.leaseId}`)).toBe(5_000);
    expect(line.offer('a', 6_000)).toBe(offer);
    line.pass('a');
    expect(await second).toBe(offer.leaseId);
    // The next turn makes a fresh offer.
    const third = line.turn('a');
    expect(line.offer('a', 7_000)!.leaseId).not.toBe(offer.leaseId);
    line.pass('a');
    await third;
  });

  it('serves the chunks in the order they came, and frees the audience when the last passes', async () => {
    const line = new LeaseLine();
    await line.turn('a');
    const order: number[] = [];
    const waiting = [1, 2, 3].map((n) => line.turn('a').then(() => order.push(n)));
    for (let i = 0; i < 3; i++) {
      line.pass('a');
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(waiting);
    expect(order).toEqual([1, 2, 3]);
    line.pass('a');
    expect(await settled(line.turn('a'))).toEqual({ done: true, value: undefined });
  });

  it('keeps audiences apart', async () => {
    const line = new LeaseLine();
    await line.turn('a');
    expect(await settled(line.turn('b'))).toEqual({ done: true, value: undefined });
    expect(line.offer('b', 1)).toBeUndefined();
  });

  it('fails the chunks in line, and any that come, at once when a chunk before them could not get the lease', async () => {
    const line = new LeaseLine();
    await line.turn('a');
    const waiting = [line.turn('a'), line.turn('a')];
    const busy = new Error('Another chunk of this audience holds its lease');
    line.giveUp('a', busy);
    line.pass('a');
    for (const w of waiting) await expect(w).rejects.toBe(busy);
    await expect(line.turn('a')).rejects.toBe(busy);
    expect(await settled(line.turn('b'))).toEqual({ done: true, value: undefined });
  });
});
