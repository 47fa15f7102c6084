/** Audience helpers over the public API, for the matching, opt-out and memory benchmarks. */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { sleep, type BenchStack } from './stack';

export async function createAudience(s: BenchStack, token: string, name: string): Promise<string> {
  const res = await s.api<{ id: string }>('POST', '/v1/audiences', { token, body: { name, customerFileSource: 'USER_PROVIDED_ONLY' } });
  if (res.status !== 201) throw new Error(`POST /v1/audiences answered ${res.status}: ${res.text}`);
  return res.json.id;
}

/** POSTs one prepared batch body; throws unless 202. */
export async function postBatch(s: BenchStack, token: string, audienceId: string, body: string): Promise<{ numReceived: number; numInvalid: number }> {
  const res = await s.api<{ numReceived: number; numInvalid: number }>('POST', `/v1/audiences/${audienceId}/users`, {
    token,
    rawBody: body,
    headers: { 'content-type': 'application/json' },
  });
  if (res.status !== 202) throw new Error(`POST /v1/audiences/{id}/users answered ${res.status}: ${res.text.slice(0, 300)}`);
  return res.json;
}

export interface SessionView {
  stage: 'receiving' | 'processing' | 'done';
  batchesReceived: number;
  numReceived: number;
  numInvalid: number;
}

/** Polls the session every `intervalMs` until it is `done`; resolves to the time it was first seen done (performance.now()). */
export async function waitForDone(
  s: BenchStack,
  token: string,
  audienceId: string,
  sessionId: number,
  options: { intervalMs?: number; timeoutMs?: number } = {},
): Promise<{ doneAt: number; session: SessionView; polls: number }> {
  const deadline = performance.now() + (options.timeoutMs ?? 600_000);
  for (let polls = 1; ; polls++) {
    const res = await s.api<SessionView>('GET', `/v1/audiences/${audienceId}/sessions/${sessionId}`, { token });
    if (res.status !== 200) throw new Error(`GET session answered ${res.status}: ${res.text}`);
    if (res.json.stage === 'done') return { doneAt: performance.now(), session: res.json, polls };
    if (performance.now() > deadline) throw new Error(`session ${sessionId} not done after ${options.timeoutMs ?? 600_000} ms (stage ${res.json.stage})`);
    await sleep(options.intervalMs ?? 100);
  }
}

/** Members of an audience as stored (the `byAudience` index), counted through the SDK. */
export async function countMemberships(s: BenchStack, audienceId: string): Promise<number> {
  const table = s.stack.resources.tables.audienceMemberships!.name;
  let count = 0;
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await s.ddb.send(
      new QueryCommand({
        TableName: table,
        IndexName: 'byAudience',
        KeyConditionExpression: 'audienceId = :a',
        ExpressionAttributeValues: { ':a': audienceId },
        Select: 'COUNT',
        ExclusiveStartKey,
      }),
    );
    count += page.Count ?? 0;
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return count;
}
