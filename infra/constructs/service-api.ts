import { Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { CorsHttpMethod, HttpApi, HttpMethod, HttpRoute, HttpRouteKey, LogGroupLogDestination, PayloadFormatVersion } from 'aws-cdk-lib/aws-apigatewayv2';
import type { HttpStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { Trigger } from '../../catalog';
import { apiCors } from '../../catalog/web';

export interface JwtIssuer {
  /** `iss` of accepted tokens; the authorizer fetches its keys from `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  /** Accepted `aud` (or, for Cognito access tokens, `client_id`) values. */
  readonly audience: readonly string[];
}

export interface ServiceApiProps {
  readonly jwt: JwtIssuer;
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  /** Browser origins allowed to call the API (the web app's), under the rules of catalog/web.ts. */
  readonly corsOrigins?: readonly string[];
}

type HttpTrigger = Extract<Trigger, { kind: 'http' }>;

/** One JSON line per request. No header, body, query or token is logged; the caller is its `sub` only. */
const accessLogFields = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  latencyMs: '$context.responseLatency',
  integrationLatencyMs: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
  sub: '$context.authorizer.claims.sub',
  sourceIp: '$context.identity.sourceIp',
};

/**
 * The HTTP API: one `$default` stage with access logs and default throttling,
 * a JWT authorizer for every route with roles, and Lambda integrations with
 * payload format 2.0. Roles themselves are checked by the handlers, which
 * read them from the verified claims.
 */
export class ServiceApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  private readonly authorizer: HttpJwtAuthorizer;

  constructor(scope: Construct, id: string, props: ServiceApiProps) {
    super(scope, id);

    this.api = new HttpApi(this, 'HttpApi', {
      createDefaultStage: false,
      // API Gateway answers preflights itself, before routes and the authorizer, as the local gateway does.
      ...(props.corsOrigins?.length && {
        corsPreflight: {
          allowOrigins: [...props.corsOrigins],
          allowMethods: apiCors.allowMethods.map((method) => CorsHttpMethod[method]),
          allowHeaders: [...apiCors.allowHeaders],
          exposeHeaders: [...apiCors.exposeHeaders],
          maxAge: Duration.seconds(apiCors.maxAgeSeconds),
          allowCredentials: false,
        },
      }),
    });

    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttle.rateLimit, burstLimit: props.throttle.burstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(accessLogFields)),
      },
    });
    Validations.of(this.stage).acknowledge({
      id: 'Serverless-APIGWXrayEnabled',
      reason: 'API Gateway HTTP APIs do not support X-Ray tracing; every integration is a Lambda function with active tracing.',
    });

    this.authorizer = new HttpJwtAuthorizer('JwtAuthorizer', props.jwt.issuer, {
      jwtAudience: [...props.jwt.audience],
      identitySource: ['$request.header.Authorization'],
    });
  }

  /** The route of an `http` trigger, with the JWT authorizer unless the route is public. */
  addRoute(id: string, trigger: HttpTrigger, handler: IFunction): HttpRoute {
    const route = new HttpRoute(this, id, {
      httpApi: this.api,
      routeKey: HttpRouteKey.with(trigger.path, HttpMethod[trigger.method]),
      integration: this.integration(id, handler),
      authorizer: trigger.auth === 'public' ? undefined : this.authorizer,
    });
    if (trigger.auth === 'public') {
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason: `${trigger.method} ${trigger.path} is public by contract (catalog auth: 'public') and serves no caller data.`,
      });
    }
    return route;
  }

  /** The `$default` route: every request no other route matches, without a token, so unknown routes answer 404. */
  addDefaultRoute(id: string, handler: IFunction): HttpRoute {
    const route = new HttpRoute(this, id, {
      httpApi: this.api,
      routeKey: HttpRouteKey.DEFAULT,
      integration: this.integration(id, handler),
    });
    Validations.of(route).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason: 'The $default route only answers 404 problem documents for unknown routes and touches no data; a token check would turn 404 into 401.',
    });
    return route;
  }

  private integration(id: string, handler: IFunction): HttpLambdaIntegration {
    return new HttpLambdaIntegration(`${id}Integration`, handler, { payloadFormatVersion: PayloadFormatVersion.VERSION_2_0 });
  }

  /** The `$default` stage's base URL without the trailing slash, so `$URL/v1/...` is a path the routes match. */
  get url(): string {
    const stack = Stack.of(this);
    return Fn.join('', ['https://', this.api.apiId, '.execute-api.', stack.region, '.', stack.urlSuffix]);
  }
}
