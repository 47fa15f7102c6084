import * as path from 'node:path';
import { Duration, Fn, Validations } from 'aws-cdk-lib';
import type { RemovalPolicy } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AuthorizationType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  ResponseType,
  RestApi,
  TokenAuthorizer,
} from 'aws-cdk-lib/aws-apigateway';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { JWK } from 'jose';
import type { Trigger } from '../../catalog';
import { notFound } from '../../functions/shared/problems';
import { LOCAL_AUDIENCE, LOCAL_ISSUER } from '../../local/identity';
import { ServiceFunction } from './service-function';

export interface RestServiceApiProps {
  /** The public key of the development issuer whose tokens the authorizer accepts. */
  readonly issuerPublicJwk: JWK;
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  /** Repository root, for bundling the authorizer. */
  readonly projectRoot: string;
  readonly activeTracing: boolean;
}

type HttpTrigger = Extract<Trigger, { kind: 'http' }>;

/** The authorizer's handler, relative to the project root. */
export const TOKEN_AUTHORIZER_ENTRY = 'infra/localstack/token-authorizer.ts';

/** The stage name, the last part of the API's URL. */
export const REST_STAGE_NAME = 'api';
/** LocalStack's gateway with its default settings (LOCALSTACK_HOST). */
export const LOCALSTACK_HOST = 'localhost.localstack.cloud:4566';

/** One JSON line per request; no header, body, query or token. The caller is its `sub` only. */
const accessLogFields = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  resourcePath: '$context.resourcePath',
  httpMethod: '$context.httpMethod',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  latencyMs: '$context.responseLatency',
  integrationLatencyMs: '$context.integrationLatency',
  authorizerError: '$context.authorizer.error',
  sub: '$context.authorizer.principalId',
  sourceIp: '$context.identity.sourceIp',
};

/**
 * The API as a REST API (API Gateway v1), for stages on emulators that have
 * REST APIs but not HTTP APIs (LocalStack's free plan). Same routes and
 * functions as `ServiceApi`; the functions take the REST API's payload 1.0
 * events as well as the HTTP API's 2.0 ones (functions/shared/http.ts).
 *
 * A Lambda TOKEN authorizer (infra/localstack/token-authorizer.ts) checks
 * what the HTTP API's JWT authorizer checks: signature with the development
 * issuer's key, algorithm, issuer, audience, exp and nbf; it hands the
 * verified claims to the function. A missing or bad token gets API
 * Gateway's 401 `{"message":"Unauthorized"}`, as on the HTTP API. Paths
 * that match no route reach the catalog's `http-default` function through a
 * greedy `{proxy+}` resource; a method a resource lacks gets a 404 problem
 * document from the gateway itself.
 */
export class RestServiceApi extends Construct {
  readonly api: RestApi;
  readonly authorizerFunction: ServiceFunction;
  private readonly authorizer: TokenAuthorizer;
  private readonly integrations = new Map<string, LambdaIntegration>();

  constructor(scope: Construct, id: string, props: RestServiceApiProps) {
    super(scope, id);

    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetention, removalPolicy: props.logRemovalPolicy });
    this.api = new RestApi(this, 'RestApi', {
      description: 'Consent-aware audiences and business messages (REST API for LocalStack)',
      cloudWatchRole: false,
      deployOptions: {
        stageName: REST_STAGE_NAME,
        throttlingRateLimit: props.throttle.rateLimit,
        throttlingBurstLimit: props.throttle.burstLimit,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.custom(JSON.stringify(accessLogFields)),
        loggingLevel: MethodLoggingLevel.OFF,
        tracingEnabled: false,
      },
    });
    // RestApi outputs its AWS endpoint; the stack's ApiUrl is where LocalStack serves it instead.
    this.api.node.tryRemoveChild('Endpoint');
    this.api.addGatewayResponse('UnknownMethod', {
      // What a REST API answers for a method the resource does not have.
      type: ResponseType.MISSING_AUTHENTICATION_TOKEN,
      statusCode: '404',
      responseHeaders: { 'Content-Type': "'application/problem+json'" },
      templates: {
        'application/json': JSON.stringify(notFound('There is no such route. See GET /openapi.json for the routes.').toDocument()),
      },
    });

    this.authorizerFunction = new ServiceFunction(this, 'TokenAuthorizer', {
      entry: path.join(props.projectRoot, TOKEN_AUTHORIZER_ENTRY),
      projectRoot: props.projectRoot,
      description: 'Verifies bearer tokens of the development issuer for the REST API',
      memorySize: 256,
      timeout: Duration.seconds(5),
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
      activeTracing: props.activeTracing,
      environment: {
        DEV_ISSUER: LOCAL_ISSUER,
        DEV_AUDIENCE: LOCAL_AUDIENCE,
        DEV_ISSUER_JWKS: JSON.stringify({ keys: [props.issuerPublicJwk] }),
      },
    });
    Validations.of(this.authorizerFunction).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason: 'API Gateway invokes the authorizer synchronously and answers 401 when it fails; a dead-letter queue only catches asynchronous invocations.',
    });
    this.authorizer = new TokenAuthorizer(this, 'Authorizer', {
      handler: this.authorizerFunction.fn,
      identitySource: 'method.request.header.Authorization',
      // Each request is checked; a cached policy would be for one method ARN only.
      resultsCacheTtl: Duration.seconds(0),
    });

    const stage = this.api.deploymentStage;
    Validations.of(stage).acknowledge(
      {
        id: 'AwsSolutions-APIG3',
        reason: 'This REST API exists only for the LocalStack stage, on a developer machine; the AWS stages use the HTTP API.',
      },
      {
        id: 'AwsSolutions-APIG6',
        reason: 'Execution logging needs an account-wide CloudWatch role for API Gateway; access logs (JSON, no payloads) are on.',
      },
      { id: 'Serverless-APIGWXrayEnabled', reason: 'LocalStack’s free plan has no X-Ray; the AWS stages trace every function.' },
    );
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason: 'Every function validates its request against the route’s zod contract before it runs, and answers 400 problem documents.',
    });
  }

  /** The route of an `http` trigger, with the token authorizer unless the route is public. */
  addRoute(_id: string, trigger: HttpTrigger, handler: IFunction): void {
    const resource = this.api.root.resourceForPath(trigger.path);
    const isPublic = trigger.auth === 'public';
    const method = resource.addMethod(trigger.method, this.integration(handler), {
      authorizationType: isPublic ? AuthorizationType.NONE : AuthorizationType.CUSTOM,
      authorizer: isPublic ? undefined : this.authorizer,
    });
    if (isPublic) {
      Validations.of(method).acknowledge(
        { id: 'AwsSolutions-APIG4', reason: `${trigger.method} ${trigger.path} is public by contract (catalog auth: 'public') and serves no caller data.` },
        { id: 'AwsSolutions-COG4', reason: `${trigger.method} ${trigger.path} is public by contract (catalog auth: 'public').` },
      );
    } else {
      Validations.of(method).acknowledge({
        id: 'AwsSolutions-COG4',
        reason: 'LocalStack’s free plan has no Cognito user pools; a Lambda authorizer checks tokens of the development issuer instead.',
      });
    }
  }

  /** Every path no route matches, and the root, to the `http-default` function, without a token, so unknown routes answer 404. */
  addDefaultRoute(_id: string, handler: IFunction): void {
    const integration = this.integration(handler);
    const reason = 'The default route only answers 404 problem documents for unknown routes and touches no data; a token check would turn 404 into 401.';
    const proxy = this.api.root.addResource('{proxy+}');
    for (const method of [proxy.addMethod('ANY', integration), this.api.root.addMethod('ANY', integration)]) {
      Validations.of(method).acknowledge({ id: 'AwsSolutions-APIG4', reason }, { id: 'AwsSolutions-COG4', reason });
    }
  }

  /** One proxy integration per function. */
  private integration(handler: IFunction): LambdaIntegration {
    const key = handler.node.path;
    let integration = this.integrations.get(key);
    if (!integration) {
      integration = new LambdaIntegration(handler, { proxy: true, allowTestInvoke: false });
      this.integrations.set(key, integration);
    }
    return integration;
  }

  /**
   * The base URL, without a trailing slash, as LocalStack serves the API with
   * its default settings: `http://<id>.execute-api.localhost.localstack.cloud:4566/api`.
   */
  get url(): string {
    return Fn.join('', ['http://', this.api.restApiId, `.execute-api.${LOCALSTACK_HOST}/`, REST_STAGE_NAME]);
  }
}
