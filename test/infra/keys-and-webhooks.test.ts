import { catalog } from '../../catalog';
import type { CatalogShape } from '../../catalog';
import { grantMatrix } from '../../infra/grants';
import type { Template } from '../../infra/grants';
import { stages } from '../../infra/stages';
import { OUTBOUND_TIMEOUT_MS } from '../../functions/shared/outbound';
import { actionsOf, logicalId, mentions, ref, removeProjectRoot, statementsOfRole, stubProjectRoot, synth } from './synth';
import type { Synthesized } from './synth';

/**
 * The receipt signing key and the webhook secrets key in KMS, read off the
 * synthesized prod template: who may sign receipts (only the functions that
 * record decisions), who may read a key's public half, encrypt or decrypt
 * webhook secrets; and what the one function that calls out to businesses'
 * URLs can reach.
 */
const c: CatalogShape = catalog;

describe('KMS keys and the webhook deliverer (prod template)', () => {
  let root: string;
  let s: Synthesized;
  const names = new Map<string, string>();

  beforeAll(() => {
    root = stubProjectRoot();
    s = synth({ projectRoot: root, stage: stages.prod });
    for (const [name, fn] of s.stack.functions) names.set(logicalId(fn.fn), name);
    for (const [name, key] of s.stack.keys) names.set(logicalId(key), name);
    for (const [name, table] of s.stack.tables) names.set(logicalId(table), name);
  });
  afterAll(() => removeProjectRoot(root));

  const keyGrants = () =>
    grantMatrix(s.json as unknown as Template)
      .filter((row) => row.type === 'key')
      .map((row) => ({ fn: names.get(row.function)!, key: names.get(row.resource)!, actions: row.actions }));
  const holders = (key: string, action: string) =>
    keyGrants()
      .filter((g) => g.key === key && g.actions.includes(action))
      .map((g) => g.fn)
      .sort();
  const statementsOf = (name: string) => statementsOfRole(s.json, logicalId(s.stack.functions.get(name)!.role));

  it('has an asymmetric ECC_NIST_P256 signing key and a symmetric, rotated key for webhook secrets, kept on prod', () => {
    const resource = (name: string) => s.json.Resources[logicalId(s.stack.keys.get(name)!)]!;

    expect(resource('receiptSigning').Properties).toMatchObject({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    expect(resource('receiptSigning').DeletionPolicy).toBe('Retain');
    expect(resource('webhookSecrets').Properties).toMatchObject({ EnableKeyRotation: true });
    expect(resource('webhookSecrets').Properties?.KeySpec).toBeUndefined();
  });

  it('grants kms:Sign only to the functions that record decisions (the receipt writers), and to no one on any other key', () => {
    const receiptWriters = Object.entries(c.functions)
      .filter(([, spec]) => spec.tables?.ledger === 'append' && spec.tables?.consentStates === 'readWrite' && spec.keys?.receiptSigning === 'sign')
      .map(([name]) => name)
      .sort();

    expect(receiptWriters).toEqual(['applyGpc', 'putConsent']);
    expect(holders('receiptSigning', 'kms:Sign')).toEqual(receiptWriters);
    expect(keyGrants().filter((g) => g.actions.includes('kms:Sign') && g.key !== 'receiptSigning')).toEqual([]);
  });

  it('lets the key set route and the export read the public key, and nothing else', () => {
    expect(holders('receiptSigning', 'kms:GetPublicKey')).toEqual(['applyGpc', 'exportMe', 'getJwks', 'putConsent']);
    for (const fn of ['exportMe', 'getJwks']) {
      expect(keyGrants().filter((g) => g.fn === fn)).toEqual([{ fn, key: 'receiptSigning', actions: ['kms:GetPublicKey'] }]);
    }
  });

  it('lets only putWebhook encrypt and only deliverWebhooks decrypt webhook secrets', () => {
    expect(holders('webhookSecrets', 'kms:Encrypt')).toEqual(['putWebhook']);
    expect(holders('webhookSecrets', 'kms:Decrypt')).toEqual(['deliverWebhooks']);
    expect(keyGrants().filter((g) => g.key === 'webhookSecrets')).toEqual(
      expect.arrayContaining([
        { fn: 'putWebhook', key: 'webhookSecrets', actions: ['kms:Encrypt'] },
        { fn: 'deliverWebhooks', key: 'webhookSecrets', actions: ['kms:Decrypt'] },
      ]),
    );
    expect(keyGrants().filter((g) => g.key === 'webhookSecrets')).toHaveLength(2);
  });

  it('grants no KMS action on "*" (keys are named, except the AWS managed SNS key, restricted by alias)', () => {
    for (const name of s.stack.functions.keys()) {
      const star = statementsOf(name).filter((st) => st.Resource === '*' && actionsOf(st).some((a) => a.startsWith('kms:')));
      expect({ name, star }).toEqual({ name, star: [] });
    }
  });

  describe('the webhook deliverer, the one function that calls URLs businesses choose', () => {
    const fnResource = () => s.json.Resources[logicalId(s.stack.functions.get('deliverWebhooks')!.fn)]!;

    it('runs outside every VPC: no network path into the account’s private networks, whatever a URL resolves to', () => {
      expect(fnResource().Properties?.VpcConfig).toBeUndefined();
      // And no function of the stack is in a VPC, so no VPC of this stack exists to be reached from a Lambda network.
      expect(Object.values(s.json.Resources).filter((r) => r.Type === 'AWS::EC2::VPC' || r.Properties?.VpcConfig !== undefined)).toEqual([]);
    });

    it('has a bounded number of concurrent invocations and a timeout that covers its outgoing calls', () => {
      const mappings = Object.values(
        s.template.findResources('AWS::Lambda::EventSourceMapping', { Properties: { FunctionName: ref(s.stack.functions.get('deliverWebhooks')!.fn) } }),
      );

      expect(mappings).toHaveLength(1);
      expect(mappings[0]!.Properties.ScalingConfig).toEqual({ MaximumConcurrency: 10 });
      expect(fnResource().Properties?.Timeout).toBeGreaterThan((OUTBOUND_TIMEOUT_MS / 1000) * 2);
    });

    it('reads only the webhooks table, sends only to its own queue and that queue’s dead-letter queue, and decrypts only webhook secrets', () => {
      const statements = statementsOf('deliverWebhooks');
      const tablesTouched = [...s.stack.tables].filter(([, t]) => statements.some((st) => mentions(st, logicalId(t)))).map(([name]) => name);
      const { queue, deadLetterQueue } = s.stack.queues.get('webhookDeliveries')!;
      const sendTargets = statements.filter((st) => actionsOf(st).includes('sqs:SendMessage'));

      expect(tablesTouched).toEqual(['webhooks']);
      expect(
        statements
          .filter((st) => mentions(st, logicalId(s.stack.tables.get('webhooks')!)))
          .flatMap(actionsOf)
          .filter((a) => /Put|Update|Delete|Write/.test(a)),
      ).toEqual([]);
      expect(sendTargets.every((st) => mentions(st, logicalId(queue)) || mentions(st, logicalId(deadLetterQueue)))).toBe(true);
      expect(sendTargets.some((st) => mentions(st, logicalId(deadLetterQueue)))).toBe(true);
      expect(statements.flatMap(actionsOf).filter((a) => a.startsWith('secretsmanager:') || a.startsWith('sns:'))).toEqual([]);
    });
  });
});
