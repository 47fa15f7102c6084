import { FaultInjector, faultRequest, sdkCommandName, type MiddlewareStackOwner } from '../../local/faults';
import { silentLog } from '../../local/log';

type Handler = (args: unknown) => Promise<unknown>;
type Middleware = (next: Handler, context: { commandName?: string }) => Handler;

/** A stand-in for an SDK client: records the middleware the injector adds and lets a test call through it. */
function fakeClient() {
  let middleware: Middleware | undefined;
  const client: MiddlewareStackOwner = {
    middlewareStack: {
      add: (mw) => {
        middleware = mw as Middleware;
      },
    },
  };
  const send = (commandName: string, next: Handler = async () => ({ output: { ok: true } })) => middleware!(next, { commandName })({});
  return { client, send };
}

const pending = Symbol('pending');
const settledWithin = <T>(promise: Promise<T>, ms = 50) => Promise.race([promise, new Promise<typeof pending>((r) => setTimeout(() => r(pending), ms))]);

describe('local fault injection', () => {
  it('names commands as the SDK does, from document-client or low-level names', () => {
    expect(sdkCommandName('BatchWriteCommand')).toBe('BatchWriteItemCommand');
    expect(sdkCommandName('TransactWriteCommand')).toBe('TransactWriteItemsCommand');
    expect(sdkCommandName('PutItem')).toBe('PutItemCommand');
    expect(sdkCommandName('PublishCommand')).toBe('PublishCommand');
  });

  it.each([
    [{ function: 'f', failInvocations: 1 }, true],
    [{ function: 'f', crashAfterCalls: { command: 'PutCommand', count: 2 } }, true],
    [{ service: 'dynamodb', throttle: 5 }, true],
    [{ service: 'sqs', serverErrors: 1, function: 'f', command: 'SendMessageCommand' }, true],
    [{ service: 'dynamodb', throttle: 1, serverErrors: 1 }, false],
    [{ service: 'lambda', throttle: 1 }, false],
    [{ function: 'f', failInvocations: -1 }, false],
    [{ function: 'f' }, false],
  ])('validates %j', (body, valid) => {
    expect(faultRequest.safeParse(body).success).toBe(valid);
  });

  it('fails the next N invocations of a function before they run, then lets them through', async () => {
    const faults = new FaultInjector(silentLog, () => ['f', 'g']);
    faults.add({ function: 'f', failInvocations: 2 });
    let ran = 0;
    const run = () => faults.invoke('f', 'r', async () => ++ran);

    expect(await run()).toEqual({ ok: false, failure: { errorType: 'Runtime.InjectedFault' } });
    expect(await run()).toEqual({ ok: false, failure: { errorType: 'Runtime.InjectedFault' } });
    expect(await run()).toEqual({ ok: true, value: 1 });
    expect(await faults.invoke('g', 'r', async () => 'other')).toEqual({ ok: true, value: 'other' });
    expect(() => faults.add({ function: 'nope', failInvocations: 1 })).toThrow(/nope/);
  });

  it("kills an invocation right after its Nth call of a command: the call's result and every later call never return", async () => {
    const faults = new FaultInjector(silentLog, () => ['f']);
    const { client, send } = fakeClient();
    faults.instrument('dynamodb', client);
    faults.add({ function: 'f', crashAfterCalls: { command: 'BatchWriteCommand', count: 2 } });
    const reached: string[] = [];
    let later: Promise<unknown> | undefined;

    const outcome = await faults.invoke('f', 'r', async () => {
      await send('BatchWriteItemCommand');
      reached.push('first write');
      await send('GetItemCommand');
      const second = send('BatchWriteItemCommand');
      later = second.finally(() => reached.push('second write returned'));
      await second;
      reached.push('after the second write');
      return 'finished';
    });

    expect(outcome).toEqual({ ok: false, failure: { errorType: 'Runtime.ExitError' } });
    expect(await settledWithin(later!)).toBe(pending);
    expect(reached).toEqual(['first write']);
    expect(faults.state().crashes).toEqual([expect.objectContaining({ calls: 2, fired: true })]);
    // One shot: the next invocation runs normally.
    expect(await faults.invoke('f', 'r2', async () => send('BatchWriteItemCommand'))).toEqual({ ok: true, value: { output: { ok: true } } });
  });

  it("answers the next N matching attempts with the service's error response, inside the retry loop, and leaves others alone", async () => {
    const faults = new FaultInjector(silentLog, () => ['f', 'g']);
    const { client, send } = fakeClient();
    faults.instrument('dynamodb', client);
    faults.add({ service: 'dynamodb', throttle: 2, function: 'f', command: 'PutCommand' });

    const inF = (command: string) => faults.invoke('f', 'r', () => send(command));
    const first = (await inF('PutItemCommand')) as { ok: true; value: { response: { statusCode: number; body: Uint8Array } } };
    expect(first.value.response.statusCode).toBe(400);
    expect(JSON.parse(Buffer.from(first.value.response.body).toString()).__type).toMatch(/#ProvisionedThroughputExceededException$/);
    expect(await faults.invoke('g', 'r', () => send('PutItemCommand'))).toEqual({ ok: true, value: { output: { ok: true } } });
    expect(await inF('GetItemCommand')).toEqual({ ok: true, value: { output: { ok: true } } });
    expect(((await inF('PutItemCommand')) as { ok: true; value: { response: { statusCode: number } } }).value.response.statusCode).toBe(400);
    expect(await inF('PutItemCommand')).toEqual({ ok: true, value: { output: { ok: true } } });
    // Calls made outside any invocation (the runtime's own) are never touched.
    faults.add({ service: 'dynamodb', serverErrors: 1 });
    expect(await send('PutItemCommand')).toEqual({ output: { ok: true } });
    expect(faults.clear()).toEqual({ failInvocations: [], crashes: [], serviceFaults: [] });
  });
});
