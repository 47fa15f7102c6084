import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/**
 * One logger and one metrics instance per function. Nothing that identifies a
 * person (phone, email, hash, token, ciphertext) is ever passed to either:
 * log ids, counts and error names only.
 */
export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'consent-audiences',
  logLevel: (process.env.POWERTOOLS_LOG_LEVEL ?? process.env.LOG_LEVEL ?? 'INFO') as 'INFO',
});

export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'ConsentAudiences',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'consent-audiences',
});

/** A safe description of an unexpected error: its name and, for AWS errors, the code. Never its message. */
export function errorSummary(error: unknown): Record<string, string> {
  if (error instanceof Error) {
    const meta = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
    return { errorName: error.name, ...(meta?.httpStatusCode ? { httpStatus: String(meta.httpStatusCode) } : {}) };
  }
  return { errorName: typeof error };
}

/** Publishes the invocation's metrics, if it recorded any (no empty-metrics warning on every request). */
export const publishMetrics = () => ({
  after: async () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  },
  onError: async () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  },
});
