import { max, median, min, pairedRatios, percentile, percentileSorted, summarize } from '../../bench/lib/stats';

describe('bench statistics', () => {
  describe('median', () => {
    it('is the middle value of an odd count, whatever the order', () => {
      expect(median([5, 1, 3])).toBe(3);
      expect(median([9, 2, 7, 4, 1])).toBe(4);
    });

    it('is the mean of the two middle values of an even count', () => {
      expect(median([4, 1, 3, 2])).toBe(2.5);
    });

    it('does not reorder its input', () => {
      const runs = [3, 1, 2];
      median(runs);
      expect(runs).toEqual([3, 1, 2]);
    });

    it('leaves out values that are not finite, and refuses none at all', () => {
      expect(median([1, Number.NaN, 3, Number.POSITIVE_INFINITY, 2])).toBe(2);
      expect(() => median([])).toThrow(/no finite values/);
      expect(() => median([Number.NaN])).toThrow(/no finite values/);
    });
  });

  describe('min and max', () => {
    it('are the extremes', () => {
      expect(min([3, -1, 2])).toBe(-1);
      expect(max([3, -1, 2])).toBe(3);
      expect(min([7])).toBe(7);
      expect(max([7])).toBe(7);
    });
  });

  describe('percentile (nearest rank)', () => {
    const fifty = Array.from({ length: 50 }, (_, i) => 50 - i); // 50..1, unsorted

    it('p99 of 50 values is the largest, p50 the 25th smallest', () => {
      expect(percentile(fifty, 99)).toBe(50);
      expect(percentile(fifty, 50)).toBe(25);
    });

    it('p100 is the maximum and a tiny p the minimum', () => {
      expect(percentile(fifty, 100)).toBe(50);
      expect(percentile(fifty, 0.1)).toBe(1);
    });

    it('rejects p outside (0, 100]', () => {
      expect(() => percentile(fifty, 0)).toThrow();
      expect(() => percentile(fifty, 101)).toThrow();
    });

    it('agrees with the sorted-array variant', () => {
      const sorted = Float64Array.from(fifty).sort();
      for (const p of [1, 50, 90, 99, 100]) expect(percentileSorted(sorted, p)).toBe(percentile(fifty, p));
      expect(percentileSorted(new Float64Array(0), 50)).toBeNaN();
    });
  });

  describe('summarize', () => {
    it('gives median, min, max and the count of finite runs', () => {
      expect(summarize([10, 30, 20, Number.NaN, 40, 50])).toEqual({ median: 30, min: 10, max: 50, n: 5 });
    });
  });

  describe('pairedRatios', () => {
    it('divides each run by the limit measured in the same run', () => {
      expect(pairedRatios([6, 9], [10, 12])).toEqual([0.6, 0.75]);
    });

    it('refuses runs that do not pair up', () => {
      expect(() => pairedRatios([1, 2], [1])).toThrow(/cannot pair/);
    });
  });
});
