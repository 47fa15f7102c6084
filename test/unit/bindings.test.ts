import { catalog, functionPlan } from '../../catalog';
import type { FunctionPlan } from '../../catalog';
import { checkBinding, installBindingCheck } from '../../functions/shared/bindings';
import { intSetting, queueUrl, secretSource, setting, tableName, topicArn } from '../../functions/shared/config';
import { enforceBindings, runAs, UnboundResource } from '../../local/bindings';
import type { StackLog } from '../../local/log';

/** A plan with one binding of every kind, from the real catalog's functions. */
const plan = (name: string, bindings: FunctionPlan['bindings']): FunctionPlan => ({
  ...functionPlan(catalog, 'getConsent', { stage: 'test' }),
  name,
  bindings,
});
const everyKind = plan('everyKind', [
  ...functionPlan(catalog, 'getConsent', { stage: 'test' }).bindings,
  ...functionPlan(catalog, 'publishAccountEvents', { stage: 'test' }).bindings.filter((b) => b.kind === 'topic'),
  ...functionPlan(catalog, 'addAudienceUsers', { stage: 'test' }).bindings.filter((b) => b.kind === 'queue' || b.kind === 'secret' || b.kind === 'setting'),
]);
const nothing = plan('nothing', []);

/** Every reader of functions/shared/config.ts, each naming one resource `everyKind` binds. */
const readers: [string, () => unknown][] = [
  ['tableName', () => tableName('consentStates')],
  ['topicArn', () => topicArn('accountEvents')],
  ['queueUrl', () => queueUrl('audienceMatching')],
  ['secretSource', () => secretSource('pepper')],
  ['setting', () => setting('sessionTimeoutMinutes')],
  ['intSetting', () => intSetting('sessionTimeoutMinutes')],
];

const log: jest.Mocked<StackLog> = { info: jest.fn(), warn: jest.fn(), error: jest.fn() };
let removeCheck: (() => void) | undefined;

afterEach(() => {
  removeCheck?.();
  removeCheck = undefined;
  installBindingCheck(undefined);
  jest.clearAllMocks();
});

describe('the plans used here', () => {
  it('bind every resource the readers name, one of each kind', () => {
    expect(new Set(everyKind.bindings.map((b) => b.kind))).toEqual(new Set(['table', 'topic', 'queue', 'secret', 'setting']));
    expect(everyKind.bindings.map((b) => b.name)).toEqual(
      expect.arrayContaining(['consentStates', 'accountEvents', 'audienceMatching', 'pepper', 'sessionTimeoutMinutes']),
    );
  });
});

describe('enforceBindings and runAs (local stack)', () => {
  it('refuses, inside an invocation, a resource the function does not bind, and logs it', () => {
    // Prepare
    removeCheck = enforceBindings(log);
    // Act
    const read = () => runAs(functionPlan(catalog, 'getConsent', { stage: 'test' }), () => tableName('identities'));
    // Assess
    expect(read).toThrow(UnboundResource);
    expect(read).toThrow('function getConsent used table identities, which its catalog entry does not grant');
    expect(log.error).toHaveBeenCalledWith('function getConsent used table identities, which its catalog entry does not grant');
  });

  it.each(readers)('refuses %s of an unbound resource', (_name, read) => {
    removeCheck = enforceBindings(log);
    expect(() => runAs(nothing, read)).toThrow(UnboundResource);
  });

  it.each(readers)('lets %s read a bound resource', (_name, read) => {
    removeCheck = enforceBindings(log);
    expect(() => runAs(everyKind, read)).not.toThrow();
    expect(runAs(everyKind, read)).toEqual(read());
    expect(log.error).not.toHaveBeenCalled();
  });

  it('checks the kind as well as the name', () => {
    removeCheck = enforceBindings(log);
    expect(() => runAs(everyKind, () => checkBinding('queue', 'consentStates'))).toThrow(UnboundResource);
  });

  it('lets any read outside an invocation pass, as at module load', () => {
    removeCheck = enforceBindings(log);
    expect(() => tableName('identities')).not.toThrow();
    expect(() => topicArn('accountEvents')).not.toThrow();
  });

  it("keeps an invocation's plan across awaits, and concurrent invocations apart", async () => {
    // Prepare
    removeCheck = enforceBindings(log);
    const later = async (read: () => unknown) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return read();
    };
    // Act
    const refused = runAs(nothing, () => later(() => tableName('consentStates')));
    const allowed = runAs(everyKind, () => later(() => tableName('consentStates')));
    // Assess
    await expect(refused).rejects.toThrow(UnboundResource);
    await expect(allowed).resolves.toBe('test-consentStates');
  });

  it('checks nothing once removed', () => {
    enforceBindings(log)();
    expect(runAs(nothing, () => tableName('identities'))).toBe('test-identities');
  });
});

describe('functions/shared/config.ts readers', () => {
  it('ask the installed check about the resource before reading it', () => {
    // Prepare
    const check = jest.fn();
    installBindingCheck(check);
    // Act
    for (const [, read] of readers) read();
    // Assess
    expect(check.mock.calls).toEqual([
      ['table', 'consentStates'],
      ['topic', 'accountEvents'],
      ['queue', 'audienceMatching'],
      ['secret', 'pepper'],
      ['setting', 'sessionTimeoutMinutes'],
      ['setting', 'sessionTimeoutMinutes'],
    ]);
  });

  it('read nothing when the check refuses', () => {
    const refusal = new Error('refused');
    installBindingCheck(() => {
      throw refusal;
    });
    for (const [, read] of readers) expect(read).toThrow(refusal);
  });

  it('check nothing where no checker is installed, as deployed', () => {
    expect(() => checkBinding('table', 'anything')).not.toThrow();
    expect(tableName('identities')).toBe('test-identities');
  });
});
