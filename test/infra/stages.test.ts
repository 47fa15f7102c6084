import { Match } from 'aws-cdk-lib/assertions';
import { catalog as serviceCatalog } from '../../catalog';
import type { CatalogShape } from '../../catalog';
import { ConfigurationError, stageConfig, stages, withFeaturePlan } from '../../infra/stages';
import type { StageConfig } from '../../infra/stages';
import { logicalId, removeProjectRoot, stubProjectRoot, synth } from './synth';
import type { Synthesized } from './synth';

const catalog: CatalogShape = serviceCatalog;

/** Paths (`Resources.<id>.<...>`) where two JSON documents differ, with both values. */
function differences(a: unknown, b: unknown, at = ''): { path: string; a: unknown; b: unknown }[] {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], at ? `${at}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [{ path: at, a, b }];
}

/** What may differ between two stages: exactly the fields the stage settings feed. */
const settingEnvs = Object.values(catalog.settings).map((s) => s.env);
const allowed: readonly RegExp[] = [
  /\.Properties\.RetentionInDays$/, // logRetention
  /\.(DeletionPolicy|UpdateReplacePolicy)$/, // removalPolicy
  /\.Properties\.DeletionProtectionEnabled$/, // tableDeletionProtection
  /\.Properties\.DeletionProtection$/, // user pool, from removalPolicy
  /\.Properties\.(UserPoolTier|UserPoolAddOns)$/, // identity.featurePlan (Plus: threat protection)
  /\.Properties\.PointInTimeRecoverySpecification\.PointInTimeRecoveryEnabled$/, // pointInTimeRecovery
  /\.Properties\.DefaultRouteSettings\.Throttling(Rate|Burst)Limit$/, // apiThrottle
  /\.Properties\.Environment\.Variables\.STAGE$/, // name
  new RegExp(`\\.Properties\\.Environment\\.Variables\\.(${settingEnvs.join('|') || '$^'})$`), // settings
];

describe('stages', () => {
  let root: string;
  const synthesized = new Map<string, Synthesized>();

  beforeAll(() => {
    root = stubProjectRoot();
    // The same stack id for all, so only the stage separates the templates.
    for (const stage of Object.values(stages)) synthesized.set(stage.name, synth({ projectRoot: root, stage, stackId: 'ConsentAudiences' }));
  });
  afterAll(() => removeProjectRoot(root));

  it('resolves stage names and rejects unknown ones', () => {
    expect(stageConfig('prod')).toBe(stages.prod);
    expect(() => stageConfig('staging')).toThrow(new ConfigurationError('Unknown stage "staging"; expected one of dev, prod, localstack'));
  });

  it('dev and prod templates differ only where the stage settings say', () => {
    const diff = differences(synthesized.get('dev')!.json, synthesized.get('prod')!.json);

    expect(diff.length).toBeGreaterThan(0);
    expect(diff.filter((d) => !allowed.some((r) => r.test(d.path)))).toEqual([]);
  });

  it.each(Object.values(stages))('$name: stateful resources follow the stage removal policy', (stage: StageConfig) => {
    const { json } = synthesized.get(stage.name)!;
    const policy = stage.removalPolicy === 'retain' ? 'Retain' : 'Delete';
    const stateful = ['AWS::DynamoDB::Table', 'AWS::SecretsManager::Secret', 'AWS::Cognito::UserPool', 'AWS::Logs::LogGroup'];

    for (const [id, r] of Object.entries(json.Resources)) {
      if (!stateful.includes(r.Type)) continue;
      expect({ id, deletion: r.DeletionPolicy, replace: r.UpdateReplacePolicy }).toEqual({ id, deletion: policy, replace: policy });
    }
  });

  it.each(Object.values(stages))('$name: tables, log groups and API throttling take the stage values', (stage: StageConfig) => {
    const { template } = synthesized.get(stage.name)!;

    for (const r of Object.values(template.findResources('AWS::DynamoDB::Table'))) {
      expect(r.Properties).toMatchObject({
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: stage.pointInTimeRecovery },
        DeletionProtectionEnabled: stage.tableDeletionProtection,
      });
    }
    for (const r of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
      expect(r.Properties.RetentionInDays).toBe(stage.logRetention);
    }
    if (stage.api === 'http') {
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        DefaultRouteSettings: { ThrottlingRateLimit: stage.apiThrottle.rateLimit, ThrottlingBurstLimit: stage.apiThrottle.burstLimit },
      });
    } else {
      template.hasResourceProperties('AWS::ApiGateway::Stage', {
        MethodSettings: [
          Match.objectLike({
            HttpMethod: '*',
            ResourcePath: '/*',
            ThrottlingRateLimit: stage.apiThrottle.rateLimit,
            ThrottlingBurstLimit: stage.apiThrottle.burstLimit,
          }),
        ],
      });
    }
  });

  it.each(Object.values(stages))('$name: the user pool is on the stage feature plan, with threat protection on Plus only', (stage: StageConfig) => {
    const pools = Object.values(synthesized.get(stage.name)!.template.findResources('AWS::Cognito::UserPool'));
    if (stage.identity.kind !== 'cognito') {
      expect(pools).toEqual([]);
      return;
    }
    const plus = stage.identity.featurePlan === 'plus';
    expect(pools).toHaveLength(1);
    expect(pools[0]!.Properties.UserPoolTier).toBe(plus ? 'PLUS' : 'ESSENTIALS');
    expect(pools[0]!.Properties.UserPoolAddOns).toEqual(plus ? { AdvancedSecurityMode: 'ENFORCED' } : undefined);
  });

  it('withFeaturePlan moves a stage to another plan and rejects what does not apply', () => {
    expect(withFeaturePlan(stages.dev, 'plus').identity).toEqual({ kind: 'cognito', featurePlan: 'plus' });
    expect(() => withFeaturePlan(stages.dev, 'lite')).toThrow(/Unknown user pool feature plan "lite"; expected one of essentials, plus/);
    expect(() => withFeaturePlan(stages.localstack, 'plus')).toThrow(/has no Cognito user pool/);
  });

  it.each(Object.values(stages))('$name: functions get the stage name and its setting values', (stage: StageConfig) => {
    const { stack, json } = synthesized.get(stage.name)!;
    const values: Readonly<Record<string, string | undefined>> = stage.settings;

    for (const [name, spec] of Object.entries(catalog.functions)) {
      const fn = json.Resources[logicalId(stack.functions.get(name)!.fn)]!;
      const env = (fn.Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env.STAGE).toBe(stage.name);
      for (const setting of spec.settings ?? []) {
        const settingSpec = catalog.settings[setting]!;
        expect(env[settingSpec.env]).toBe(values[setting] ?? settingSpec.default);
      }
    }
  });
});
