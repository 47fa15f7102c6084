/**
 * The one clock every function reads. On AWS it is the system clock; the
 * local stack can move it forward (`POST /_local/clock`) to make 30-day expiry
 * testable without waiting.
 */
let offsetMs = 0;

export const clock = {
  now(): Date {
    return new Date(Date.now() + offsetMs);
  },
  nowMs(): number {
    return Date.now() + offsetMs;
  },
  /** Whole epoch seconds, the unit of DynamoDB TTL attributes. */
  nowSeconds(): number {
    return Math.floor((Date.now() + offsetMs) / 1000);
  },
  /** Local stack only: moves the clock of every function in the process. */
  advance(seconds: number): Date {
    offsetMs += seconds * 1000;
    return this.now();
  },
  offsetSeconds(): number {
    return offsetMs / 1000;
  },
};

export const isoSeconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
