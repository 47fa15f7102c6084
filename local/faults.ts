/**
 * Fault injection, local stack only (`POST /_local/faults`): make functions
 * fail the way they fail on AWS, so tests can show that nothing is lost.
 *
 * - `{"function": "publishAccountEvents", "failInvocations": 3}`: the next 3
 *   invocations of that function fail before its handler runs, as when Lambda
 *   kills an execution environment (the trigger sees a function error).
 * - `{"function": "matchAudienceBatch", "crashAfterCalls": {"command": "BatchWriteCommand", "count": 2}}`:
 *   the function dies right after its 2nd call of that SDK command has
 *   completed: the invocation fails at once and the code never runs on (its
 *   later SDK calls, `finally` blocks included, never return), as when the
 *   process is killed halfway through a batch. One shot.
 * - `{"service": "dynamodb", "throttle": 5}`: the next 5 attempts of calls the
 *   functions make to that service fail with the service's throttling error
 *   (`ProvisionedThroughputExceededException` for DynamoDB, `Throttling` for
 *   SNS, `RequestThrottled` for SQS); `"serverErrors": 5` fails them with
 *   HTTP 500 instead. The fault sits inside the SDK's retry loop: the SDK
 *   parses a real error response and retries with its standard backoff, so
 *   fewer failures than `maxAttempts` (6) are absorbed and more surface as an
 *   error of the call. Optional `"function"` (only that function's calls) and
 *   `"command"` (only that command, `PutCommand` or `PutItemCommand` alike).
 *
 * `DELETE /_local/faults` clears every fault; `GET /_local/faults` shows what
 * is armed and what fired. Functions know nothing of this: the runtime adds
 * a middleware to the SDK clients of `functions/shared/` (aws.ts, sns.ts, sqs.ts) and wraps
 * each invocation. The runtime's own clients (pollers, sweep) are untouched.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import type { StackLog } from './log';

export const FAULT_SERVICES = ['dynamodb', 'sns', 'sqs'] as const;
export type FaultService = (typeof FAULT_SERVICES)[number];

/** Document-client command names and their low-level counterparts, which is what the SDK's middleware sees. */
const DOCUMENT_COMMANDS: Readonly<Record<string, string>> = {
  GetCommand: 'GetItemCommand',
  PutCommand: 'PutItemCommand',
  UpdateCommand: 'UpdateItemCommand',
  DeleteCommand: 'DeleteItemCommand',
  BatchGetCommand: 'BatchGetItemCommand',
  BatchWriteCommand: 'BatchWriteItemCommand',
  TransactGetCommand: 'TransactGetItemsCommand',
  TransactWriteCommand: 'TransactWriteItemsCommand',
  QueryCommand: 'QueryCommand',
  ScanCommand: 'ScanCommand',
  ExecuteStatementCommand: 'ExecuteStatementCommand',
  BatchExecuteStatementCommand: 'BatchExecuteStatementCommand',
  ExecuteTransactionCommand: 'ExecuteTransactionCommand',
};

/** `BatchWriteCommand`, `BatchWriteItemCommand` or `BatchWriteItem`: the SDK's name, `BatchWriteItemCommand`. */
export function sdkCommandName(name: string): string {
  const withSuffix = name.endsWith('Command') ? name : `${name}Command`;
  return DOCUMENT_COMMANDS[withSuffix] ?? withSuffix;
}

const COMMAND = /^[A-Z][A-Za-z0-9]{1,63}$/;
const count = (max: number) => z.number().int().min(1).max(max);

const failInvocations = z.strictObject({
  function: z.string().min(1).max(64),
  failInvocations: count(1000),
});
const crashAfterCalls = z.strictObject({
  function: z.string().min(1).max(64),
  crashAfterCalls: z.strictObject({
    command: z.string().regex(COMMAND, 'an SDK command name such as BatchWriteCommand'),
    count: count(10_000),
  }),
});
const serviceFault = z
  .strictObject({
    service: z.enum(FAULT_SERVICES),
    throttle: count(10_000).optional(),
    serverErrors: count(10_000).optional(),
    function: z.string().min(1).max(64).optional(),
    command: z.string().regex(COMMAND, 'an SDK command name such as PutCommand').optional(),
  })
  .refine((f) => (f.throttle === undefined) !== (f.serverErrors === undefined), {
    message: 'Give exactly one of throttle or serverErrors',
  });

/** The body of `POST /_local/faults`. */
export const faultRequest = z.union([failInvocations, crashAfterCalls, serviceFault]);
export type FaultRequest = z.output<typeof faultRequest>;

/** One invocation of a function, as the fault middleware sees it through async context. */
interface InvocationScope {
  readonly functionName: string;
  readonly requestId: string;
  /** Set once the invocation was killed: its later SDK calls never return. */
  killed: boolean;
  kill(): void;
}

interface ServiceRule {
  readonly id: string;
  readonly service: FaultService;
  readonly kind: 'throttle' | 'serverError';
  remaining: number;
  fired: number;
  readonly function?: string;
  readonly command?: string;
}

interface CrashRule {
  readonly id: string;
  readonly function: string;
  readonly command: string;
  readonly count: number;
  calls: number;
  fired: boolean;
}

export interface FaultState {
  failInvocations: { function: string; remaining: number; fired: number }[];
  crashes: { id: string; function: string; command: string; count: number; calls: number; fired: boolean }[];
  serviceFaults: {
    id: string;
    service: FaultService;
    kind: 'throttle' | 'serverError';
    remaining: number;
    fired: number;
    function?: string;
    command?: string;
  }[];
}

/** The outcome of an invocation the injector cut short, for the runtime's InvokeOutcome. */
export interface InjectedFailure {
  readonly errorType: string;
}

/** Anything with an SDK middleware stack (the functions' SDK clients). */
export interface MiddlewareStackOwner {
  readonly middlewareStack: {
    add(middleware: unknown, options: { step: 'deserialize'; priority: 'low'; name: string; override?: boolean }): void;
  };
}

const never = <T>(): Promise<T> => new Promise<T>(() => {});

/** A raw error response in the service's own protocol, so the SDK's deserializer makes the real error of it. */
function errorResponse(service: FaultService, kind: 'throttle' | 'serverError'): { statusCode: number; headers: Record<string, string>; body: Uint8Array } {
  const requestId = randomUUID();
  const server = kind === 'serverError';
  const statusCode = server ? 500 : 400;
  if (service === 'sns') {
    // Query protocol: an XML error document.
    const code = server ? 'InternalError' : 'Throttling';
    const xml =
      `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>${server ? 'Receiver' : 'Sender'}</Type>` +
      `<Code>${code}</Code><Message>Injected by the local stack</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
    return { statusCode, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body: Buffer.from(xml) };
  }
  // JSON 1.0 protocol (DynamoDB, and SQS with its query-compatible error header).
  const type =
    service === 'dynamodb'
      ? `com.amazonaws.dynamodb.v20120810#${server ? 'InternalServerError' : 'ProvisionedThroughputExceededException'}`
      : `com.amazonaws.sqs#${server ? 'InternalError' : 'RequestThrottled'}`;
  const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId };
  if (service === 'sqs') headers['x-amzn-query-error'] = `${server ? 'InternalError;Receiver' : 'RequestThrottled;Sender'}`;
  return { statusCode, headers, body: Buffer.from(JSON.stringify({ __type: type, message: 'Injected by the local stack' })) };
}

export class FaultInjector {
  private readonly scopes = new AsyncLocalStorage<InvocationScope>();
  private readonly failing = new Map<string, { remaining: number; fired: number }>();
  private crashes: CrashRule[] = [];
  private serviceRules: ServiceRule[] = [];

  constructor(
    private readonly log: StackLog,
    /** Catalog names of the functions that exist, to refuse faults for unknown ones. */
    private readonly knownFunctions: () => readonly string[] = () => [],
  ) {}

  /** Arms a fault; throws a message for a 400 when it names an unknown function. */
  add(request: FaultRequest): FaultState {
    const known = this.knownFunctions();
    const fn = 'function' in request ? request.function : undefined;
    if (fn !== undefined && known.length > 0 && !known.includes(fn)) throw new UnknownFunctionError(fn);
    if ('failInvocations' in request) {
      const entry = this.failing.get(request.function) ?? { remaining: 0, fired: 0 };
      entry.remaining += request.failInvocations;
      this.failing.set(request.function, entry);
      this.log.warn(`fault armed: the next ${request.failInvocations} invocation(s) of ${request.function} fail`);
    } else if ('crashAfterCalls' in request) {
      const command = sdkCommandName(request.crashAfterCalls.command);
      this.crashes.push({ id: randomUUID(), function: request.function, command, count: request.crashAfterCalls.count, calls: 0, fired: false });
      this.log.warn(`fault armed: ${request.function} dies after its call number ${request.crashAfterCalls.count} of ${command}`);
    } else {
      const kind = request.throttle !== undefined ? 'throttle' : 'serverError';
      const remaining = request.throttle ?? request.serverErrors ?? 0;
      this.serviceRules.push({
        id: randomUUID(),
        service: request.service,
        kind,
        remaining,
        fired: 0,
        ...(request.function !== undefined ? { function: request.function } : {}),
        ...(request.command !== undefined ? { command: sdkCommandName(request.command) } : {}),
      });
      this.log.warn(`fault armed: the next ${remaining} ${request.service} call attempt(s)${request.function ? ` of ${request.function}` : ''} fail (${kind})`);
    }
    return this.state();
  }

  clear(): FaultState {
    this.failing.clear();
    this.crashes = [];
    this.serviceRules = [];
    this.log.warn('faults cleared');
    return this.state();
  }

  state(): FaultState {
    return {
      failInvocations: [...this.failing].map(([fn, f]) => ({ function: fn, remaining: f.remaining, fired: f.fired })),
      crashes: this.crashes.map((c) => ({ id: c.id, function: c.function, command: c.command, count: c.count, calls: c.calls, fired: c.fired })),
      serviceFaults: this.serviceRules.map((r) => ({
        id: r.id,
        service: r.service,
        kind: r.kind,
        remaining: r.remaining,
        fired: r.fired,
        ...(r.function !== undefined ? { function: r.function } : {}),
        ...(r.command !== undefined ? { command: r.command } : {}),
      })),
    };
  }

  /**
   * Runs one invocation of `functionName` under the injector: a pending
   * `failInvocations` fails it before `run` starts; a crash rule that fires
   * during it ends it at once. Resolves to `run`'s result, or to the failure.
   */
  async invoke<T>(functionName: string, requestId: string, run: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; failure: InjectedFailure }> {
    const failing = this.failing.get(functionName);
    if (failing && failing.remaining > 0) {
      failing.remaining -= 1;
      failing.fired += 1;
      this.log.warn(`[${functionName}] ${requestId} killed before it ran (injected fault, ${failing.remaining} left)`);
      return { ok: false, failure: { errorType: 'Runtime.InjectedFault' } };
    }
    let killed!: () => void;
    const death = new Promise<'killed'>((resolve) => {
      killed = () => resolve('killed');
    });
    const scope: InvocationScope = {
      functionName,
      requestId,
      killed: false,
      kill() {
        if (this.killed) return;
        this.killed = true;
        killed();
      },
    };
    const running = this.scopes.run(scope, run);
    const result = await Promise.race([running.then((value) => ({ value })), death]);
    if (result === 'killed') {
      running.catch(() => {}); // whatever it does next is never seen
      this.log.warn(`[${functionName}] ${requestId} killed halfway (injected fault)`);
      return { ok: false, failure: { errorType: 'Runtime.ExitError' } };
    }
    return { ok: true, value: result.value };
  }

  /** Adds the fault middleware to an SDK client of the functions (`functions/shared/`). */
  instrument(service: FaultService, client: MiddlewareStackOwner): void {
    client.middlewareStack.add(this.middleware(service), { step: 'deserialize', priority: 'low', name: `localFaultInjection-${service}`, override: true });
  }

  private middleware(service: FaultService) {
    // Innermost (deserialize step, low priority): runs once per attempt,
    // inside the retry middleware, and hands the deserializer a response.
    return (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: unknown): Promise<unknown> => {
        const scope = this.scopes.getStore();
        if (!scope) return next(args);
        if (scope.killed) return never();
        const command = context.commandName ?? '';

        const rule = this.serviceRules.find(
          (r) =>
            r.remaining > 0 &&
            r.service === service &&
            (r.function === undefined || r.function === scope.functionName) &&
            (r.command === undefined || r.command === command),
        );
        if (rule) {
          rule.remaining -= 1;
          rule.fired += 1;
          return { response: errorResponse(service, rule.kind), output: undefined };
        }

        const crash = this.crashes.find((c) => !c.fired && c.function === scope.functionName && c.command === command);
        if (!crash) return next(args);
        crash.calls += 1;
        const out = await next(args);
        if (crash.calls >= crash.count && !crash.fired) {
          crash.fired = true;
          scope.kill();
        }
        if (scope.killed) return never();
        return out;
      };
  }
}

export class UnknownFunctionError extends Error {
  constructor(readonly functionName: string) {
    super(`No function named ${functionName} is loaded`);
    this.name = 'UnknownFunctionError';
  }
}
