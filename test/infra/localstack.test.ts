/**
 * The localstack stage deploys on LocalStack's free plan ("Hobby"): every
 * resource type of its template belongs to a service that plan includes,
 * and it keeps the same functions, tables, topics, queues and secrets as the
 * AWS stages.
 *
 * The plan of each service is as LocalStack's API coverage catalog states it
 * (https://docs.localstack.cloud/api-coverage/v1/, "Minimum plan" per
 * service; coverage generated September-October 2026, licensing dated
 * 2026-03-23). Read again when moving to a newer LocalStack.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { catalog } from '../../catalog';
import { stages } from '../../infra/stages';
import { logicalId, removeProjectRoot, stubProjectRoot, synth, type Synthesized } from './synth';

/** CloudFormation service prefixes (`AWS::<prefix>::...`) of the services on LocalStack's free Hobby plan, with their coverage page. */
const HOBBY_PLAN: Readonly<Record<string, string>> = {
  Lambda: 'api-coverage/v1/services/lambda.md: Hobby',
  DynamoDB: 'api-coverage/v1/services/dynamodb.md and dynamodbstreams.md: Hobby',
  SQS: 'api-coverage/v1/services/sqs.md: Hobby',
  SNS: 'api-coverage/v1/services/sns.md: Hobby',
  SecretsManager: 'api-coverage/v1/services/secretsmanager.md: Hobby',
  CloudWatch: 'api-coverage/v1/services/cloudwatch.md: Hobby',
  Logs: 'api-coverage/v1/services/logs.md: Hobby',
  IAM: 'references/coverage/coverage_iam: supported in the free image',
  KMS: 'aws/services/kms: symmetric and asymmetric keys, sign and encrypt, in the free image',
  // API Gateway v1 (REST APIs) only: "LocalStack supports API Gateway V1 (REST API) in the Free plan, and API Gateway V2 (HTTP, Management and WebSocket API) in the Base plan".
  ApiGateway: 'aws/services/apigateway: REST APIs (v1) in the free plan',
  // The metadata resource CDK adds is handled by CloudFormation itself.
  CDK: 'AWS::CDK::Metadata, read by CloudFormation only',
};

/** Services the AWS stages use that the Hobby plan lacks. */
const NOT_IN_PLAN: Readonly<Record<string, string>> = {
  ApiGatewayV2: 'api-coverage/v1/services/apigatewayv2.md: Base',
  Cognito: 'api-coverage/v1/services/cognito-idp.md: Base',
  XRay: 'api-coverage/v1/services/xray.md: Ultimate',
};

const serviceOf = (type: string): string => type.split('::')[1] ?? type;

describe('the localstack stage (LocalStack free plan)', () => {
  let root: string;
  let localstack: Synthesized;
  let dev: Synthesized;

  beforeAll(() => {
    root = stubProjectRoot();
    localstack = synth({ projectRoot: root, stage: stages.localstack });
    dev = synth({ projectRoot: root, stage: stages.dev });
  });
  afterAll(() => removeProjectRoot(root));

  it('uses only resource types of services on the free plan', () => {
    const types = [...new Set(Object.values(localstack.json.Resources).map((r) => r.Type))].sort();
    expect(types.length).toBeGreaterThan(10);
    expect(types.filter((type) => !(serviceOf(type) in HOBBY_PLAN))).toEqual([]);
  });

  it('needs none of the services the AWS stages use beyond the plan (the check above is not vacuous)', () => {
    const devServices = new Set(Object.values(dev.json.Resources).map((r) => serviceOf(r.Type)));
    for (const service of ['ApiGatewayV2', 'Cognito']) expect(devServices.has(service)).toBe(true);
    const services = new Set(Object.values(localstack.json.Resources).map((r) => serviceOf(r.Type)));
    expect(Object.keys(NOT_IN_PLAN).filter((service) => services.has(service))).toEqual([]);
  });

  it('turns X-Ray active tracing off in every function, and Powertools tracing with it', () => {
    const functions = Object.values(localstack.template.findResources('AWS::Lambda::Function'));
    expect(functions.length).toBe(Object.keys(catalog.functions).length + 1); // and the token authorizer
    for (const fn of functions) {
      expect(fn.Properties.TracingConfig).toBeUndefined();
      expect(fn.Properties.Environment.Variables.POWERTOOLS_TRACE_ENABLED).toBe('false');
    }
  });

  it('has the same functions, tables, topics, queues and secrets as the AWS stages', () => {
    const count = (s: Synthesized, type: string) => Object.keys(s.template.findResources(type)).length;
    for (const type of ['AWS::DynamoDB::Table', 'AWS::SNS::Topic', 'AWS::SQS::Queue', 'AWS::SecretsManager::Secret', 'AWS::Lambda::EventSourceMapping']) {
      expect({ type, count: count(localstack, type) }).toEqual({ type, count: count(dev, type) });
    }
    for (const name of Object.keys(catalog.functions)) {
      const id = logicalId(localstack.stack.functions.get(name)!.fn);
      expect(localstack.json.Resources[id]?.Type).toBe('AWS::Lambda::Function');
    }
  });

  it('routes every catalog route through a REST API, behind the token authorizer unless public', () => {
    const template: Template = localstack.template;
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'TOKEN',
      IdentitySource: 'method.request.header.Authorization',
      AuthorizerResultTtlInSeconds: 0,
    });
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).map((m) => m.Properties);
    for (const spec of Object.values(catalog.functions)) {
      if (spec.trigger.kind !== 'http') continue;
      const trigger = spec.trigger;
      const authorization = methods.filter((m) => m.HttpMethod === trigger.method).map((m) => m.AuthorizationType);
      expect(authorization).toContain(trigger.auth === 'public' ? 'NONE' : 'CUSTOM');
    }
    const routes = Object.values(catalog.functions).filter((f) => f.trigger.kind === 'http').length;
    // Every route, plus ANY on the root and on {proxy+} for unknown paths.
    expect(methods).toHaveLength(routes + 2);
  });

  it('outputs the API URL as LocalStack serves it, and no user pool', () => {
    expect(Object.keys(localstack.json.Outputs ?? {})).toEqual(['ApiUrl']);
    expect(JSON.stringify(localstack.json.Outputs?.ApiUrl)).toContain('.execute-api.localhost.localstack.cloud:4566/api');
  });
});
