/**
 * For the matcher's memory benchmark: accepts one upload batch exactly as
 * the upload route does (services/uploads.ts acceptBatch: keying,
 * chunks sent to the matching queue, batch recorded in its session), except
 * that AUDIENCE_MATCHING_QUEUE_URL names a private queue, so the stack's own
 * matcher never sees the chunks and the benchmark can hand them to a matcher
 * in a fresh process.
 *
 * Runs with the stack's environment. argv[2]: JSON { businessId, audienceId, sessionId, rows }.
 */
import { uploadRows } from '../lib/fixtures';

async function main() {
  const { businessId, audienceId, sessionId, rows } = JSON.parse(process.argv[2] ?? '{}') as {
    businessId: string;
    audienceId: string;
    sessionId: number;
    rows: number;
  };
  // Queue URLs name sqs.<region>.localhost, which only fauxqs's resolver knows.
  const fauxqs = (await import('fauxqs')) as { interceptLocalhostDns: () => () => void };
  fauxqs.interceptLocalhostDns();
  const { acceptBatch } = await import('../../functions/services/uploads');
  const receipt = await acceptBatch('add', businessId, audienceId, {
    session: { id: sessionId, batchSeq: 1, lastBatch: true, estimatedTotal: rows },
    schema: ['PHONE_SHA256'],
    data: uploadRows(0, rows),
  });
  process.stdout.write(`${JSON.stringify(receipt)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
