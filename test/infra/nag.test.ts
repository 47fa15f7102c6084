import { Validations } from 'aws-cdk-lib';
import type { Stack } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { CatalogShape } from '../../catalog';
import { stages } from '../../infra/stages';
import type { StageConfig } from '../../infra/stages';
import { extendedCatalog } from './fixture-catalog';
import { removeProjectRoot, stubProjectRoot, synth } from './synth';

/**
 * cdk-nag 3 reports through CDK's policy-validation plugins instead of
 * annotations, and acknowledgements are `Validations.of(x).acknowledge(...)`.
 * `validateScope` runs a pack directly on the construct tree and returns
 * only findings that nobody acknowledged.
 */
function findings(stack: Stack, severity: 'error' | 'warning'): string[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks()]
    .flatMap((pack) => pack.validateScope(stack).violations)
    .filter((v) => v.severity === severity)
    .flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}: ${v.description}`));
}

/** Every acknowledgement in the tree: rule id (without CDK's `Annotation::` prefix) and reason. */
function acknowledgements(stack: Stack): { id: string; reason: string; path: string }[] {
  return stack.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([id, reason]) => ({ id: id.replace(/^annotation::/i, ''), reason, path: c.node.path })),
  );
}

/** Rules this stack acknowledges after review; a new kind of acknowledgement must be added here deliberately. */
const reviewed: readonly RegExp[] = [
  /^AwsSolutions-L1$/,
  /^Serverless-LambdaLatestVersion$/,
  /^Serverless-LambdaDLQ$/,
  /^Serverless-LambdaEventSourceMappingDestination$/,
  /^Serverless-SQSRedrivePolicy$/,
  /^Serverless-APIGWXrayEnabled$/,
  /^AwsSolutions-APIG4$/,
  /^AwsSolutions-COG2$/,
  // Essentials instead of Plus (no threat protection), a stage choice with its cost in the README.
  /^AwsSolutions-COG3$/,
  /^AwsSolutions-COG8$/,
  // The LocalStack stage: a REST API with a Lambda authorizer and no X-Ray, for LocalStack's free plan.
  /^AwsSolutions-COG4$/,
  /^AwsSolutions-APIG2$/,
  /^AwsSolutions-APIG3$/,
  /^AwsSolutions-APIG6$/,
  /^Serverless-LambdaTracing$/,
  /^AwsSolutions-SMG4$/,
  // The receipt signing key is asymmetric, which KMS cannot rotate in place: rotated by key generation (README).
  /^AwsSolutions-KMS5$/,
  /^AwsSolutions-IAM5\[Resource::\*\]$/,
  /^AwsSolutions-IAM5\[Action::kms:GenerateDataKey\*\]$/,
  /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key\/\*\]$/,
  /^AwsSolutions-IAM5\[Resource::<[A-Za-z0-9]+\.Arn>\/index\/\*\]$/,
  // The web app: static files in a private bucket behind CloudFront (web-app.ts gives each reason), and CDK's
  // BucketDeployment function, which copies them in during a deployment.
  /^AwsSolutions-S1$/,
  /^AwsSolutions-CFR[1-4]$/,
  /^AwsSolutions-IAM4\[Policy::arn:<AWS::Partition>:iam::aws:policy\/service-role\/AWSLambdaBasicExecutionRole\]$/,
  /^AwsSolutions-IAM5\[Action::s3:(GetBucket|GetObject|List|Abort|DeleteObject)\*\]$/,
  /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-<AWS::AccountId>-<AWS::Region>\/\*\]$/,
  /^AwsSolutions-IAM5\[Resource::<Web[A-Za-z0-9]+\.Arn>\/\*\]$/,
];

describe.each([
  ['dev', stages.dev, undefined],
  ['prod', stages.prod, undefined],
  ['localstack', stages.localstack, undefined],
  ['dev, extended catalog', stages.dev, extendedCatalog],
] as [string, StageConfig, CatalogShape | undefined][])('cdk-nag AwsSolutions + Serverless (%s)', (_label, stage, c) => {
  let root: string;
  let stack: Stack;

  beforeAll(() => {
    root = stubProjectRoot(c);
    stack = synth({ projectRoot: root, stage, catalog: c }).stack;
  });
  afterAll(() => removeProjectRoot(root));

  it('has no unacknowledged error', () => {
    expect(findings(stack, 'error')).toEqual([]);
  });

  it('has no unacknowledged warning', () => {
    expect(findings(stack, 'warning')).toEqual([]);
  });

  it('acknowledges only reviewed rules, each with a concrete reason', () => {
    const acks = acknowledgements(stack);

    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect({ id: ack.id, path: ack.path, reviewed: reviewed.some((r) => r.test(ack.id)) }).toEqual({ id: ack.id, path: ack.path, reviewed: true });
      expect(ack.reason.length).toBeGreaterThan(60);
    }
  });
});
