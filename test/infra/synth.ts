import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import type { JWK } from 'jose';
import { catalog } from '../../catalog';
import { TOKEN_AUTHORIZER_ENTRY } from '../../infra/constructs/rest-service-api';
import { ConsentAudiencesStack } from '../../infra/stack';
import type { CatalogShape } from '../../catalog';
import type { ConsentAudiencesStackProps } from '../../infra/stack';
import { stages } from '../../infra/stages';
import type { StageConfig } from '../../infra/stages';

export const repoRoot = path.resolve(__dirname, '../..');

/** The context `npx cdk synth` gets from cdk.json (feature flags), so tests synthesise the same template. */
export const cdkJsonContext: Record<string, unknown> = JSON.parse(fs.readFileSync(path.join(repoRoot, 'cdk.json'), 'utf8')).context;

/**
 * A throwaway project root with a stub handler at every catalog entry and a
 * lock file. With bundling skipped, NodejsFunction only checks that these
 * exist, so the template does not depend on which handlers are written yet
 * (entries.test.ts checks the real ones).
 */
export function stubProjectRoot(c: CatalogShape = catalog): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'infra-test-'));
  fs.writeFileSync(path.join(root, 'package-lock.json'), '{"lockfileVersion": 3, "packages": {}}\n');
  for (const entryPath of [...Object.values(c.functions).map((spec) => spec.entry), TOKEN_AUTHORIZER_ENTRY]) {
    const entry = path.join(root, entryPath);
    fs.mkdirSync(path.dirname(entry), { recursive: true });
    fs.writeFileSync(entry, 'export const handler = async () => ({});\n');
  }
  // A stand-in for the web app's build (dist/web): the stack uploads whatever is there.
  fs.mkdirSync(path.join(root, 'dist', 'web', 'assets'), { recursive: true });
  fs.writeFileSync(path.join(root, 'dist', 'web', 'index.html'), '<!doctype html><title>app</title><script type="module" src="/assets/app.js"></script>\n');
  fs.writeFileSync(path.join(root, 'dist', 'web', 'assets', 'app.js'), 'export {};\n');
  return root;
}

export function removeProjectRoot(root: string): void {
  fs.rmSync(root, { recursive: true, force: true });
}

export interface Synthesized {
  readonly stack: ConsentAudiencesStack;
  readonly template: Template;
  /** The template as CloudFormation JSON. */
  readonly json: { Resources: Record<string, CfnResourceJson>; Outputs?: Record<string, unknown> };
}

export interface CfnResourceJson {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
  readonly DependsOn?: unknown;
}

/** A development issuer's public key, for stages that trust one (LocalStack). */
export function testIssuerPublicJwk(): JWK {
  const { publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return publicKey.export({ format: 'jwk' }) as JWK;
}

/** Synthesises the stack with bundling skipped (no esbuild, no Docker): about a second. */
export function synth(
  options: { stage?: StageConfig; stackId?: string; projectRoot: string } & Partial<Omit<ConsentAudiencesStackProps, 'stage' | 'projectRoot'>>,
): Synthesized {
  const { stage = stages.dev, stackId = `ConsentAudiences-${stage.name}`, ...props } = options;
  const app = new App({ context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] } });
  const developmentIssuer = props.developmentIssuer ?? (stage.identity.kind === 'development-issuer' ? { publicJwk: testIssuerPublicJwk() } : undefined);
  const stack = new ConsentAudiencesStack(app, stackId, { ...props, stage, developmentIssuer });
  const template = Template.fromStack(stack);
  return { stack, template, json: template.toJSON() as Synthesized['json'] };
}

/** Logical id of an L2 construct's CloudFormation resource. */
export function logicalId(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}

export const ref = (construct: IConstruct) => ({ Ref: logicalId(construct) });
export const arnOf = (construct: IConstruct) => ({ 'Fn::GetAtt': [logicalId(construct), 'Arn'] });

/** The statements of every IAM policy attached to a role. */
export function statementsOfRole(json: Synthesized['json'], roleLogicalId: string): PolicyStatementJson[] {
  return Object.values(json.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) => JSON.stringify(r.Properties?.Roles).includes(`"${roleLogicalId}"`))
    .flatMap((r) => (r.Properties!.PolicyDocument as { Statement: PolicyStatementJson[] }).Statement);
}

export interface PolicyStatementJson {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

export const actionsOf = (s: PolicyStatementJson): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** Whether a statement's resources mention the resource with this logical id (its ARN, stream ARN or index ARNs). */
export const mentions = (s: PolicyStatementJson, id: string): boolean => JSON.stringify(s.Resource).includes(`"${id}"`);
