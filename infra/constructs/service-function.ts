import * as path from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import type { CfnElement, Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Access, KeyAccess } from '../../catalog';

/** Item reads and queries; no `dynamodb:Scan`. */
export const TABLE_READ_ACTIONS = ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'] as const;
export const TABLE_WRITE_ACTIONS = ['dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'] as const;
/** Adding items to an append-only table: a conditional put, nothing that changes or removes an item. */
export const TABLE_APPEND_ACTIONS = ['dynamodb:PutItem'] as const;

/** The KMS actions of each kind of key access: signing needs the public key too (its thumbprint is the `kid`). */
export const KEY_ACTIONS: Readonly<Record<KeyAccess, readonly string[]>> = {
  sign: ['kms:Sign', 'kms:GetPublicKey'],
  publish: ['kms:GetPublicKey'],
  encrypt: ['kms:Encrypt'],
  decrypt: ['kms:Decrypt'],
};

/** The DynamoDB actions of each kind of access (besides DescribeTable). */
export function tableActions(access: Access): string[] {
  switch (access) {
    case 'read':
      return [...TABLE_READ_ACTIONS];
    case 'append':
      return [...TABLE_APPEND_ACTIONS];
    case 'write':
      return [...TABLE_WRITE_ACTIONS];
    case 'readWrite':
      return [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS];
  }
}

export interface ServiceFunctionProps {
  /** Absolute path of the handler module; it exports `handler`. */
  readonly entry: string;
  /** Folder with `package-lock.json`; esbuild resolves dependencies from here. */
  readonly projectRoot: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  /** Environment every function of the service shares (stage, Powertools names). */
  readonly environment: Readonly<Record<string, string>>;
  /** X-Ray active tracing (default true); off where the target has no X-Ray (LocalStack's free plan). */
  readonly activeTracing?: boolean;
}

/**
 * The house Lambda function: Node.js 22 on ARM64, bundled by the locally
 * installed esbuild (never Docker), its own log group with the stage's
 * retention, active X-Ray tracing (unless the stage's target lacks X-Ray), and a role that starts with nothing but
 * writing to that log group. Every other permission comes from a `bind*`
 * call, which sets the resource's environment variable and the
 * least-privilege grant together.
 */
export class ServiceFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly logGroup: LogGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    super(scope, id);

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });

    // An own role instead of the AWSLambdaBasicExecutionRole managed policy,
    // which would allow writing to every log group of the account.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    this.logGroup.grantWrite(this.role);

    const activeTracing = props.activeTracing ?? true;
    this.fn = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: path.join(props.projectRoot, 'package-lock.json'),
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      tracing: activeTracing ? Tracing.ACTIVE : Tracing.DISABLED,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...(!activeTracing && { POWERTOOLS_TRACE_ENABLED: 'false' }), ...props.environment },
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.CJS,
        target: 'node22',
        minify: true,
        sourceMap: true,
        // Stack traces map to file and line; the sources themselves stay out of the bundle.
        sourcesContent: false,
        // The Node.js 22 runtime ships SDK v3; bundling it would only add weight.
        externalModules: ['@aws-sdk/*'],
      },
    });

    const runtimeReason =
      'nodejs22.x is the runtime DESIGN.md fixes: the same code runs on the development machines (Node.js 20/22) ' +
      'and esbuild targets node22; moving to a newer runtime is a deliberate upgrade of both.';
    Validations.of(this.fn).acknowledge({ id: 'AwsSolutions-L1', reason: runtimeReason }, { id: 'Serverless-LambdaLatestVersion', reason: runtimeReason });
    if (!activeTracing) {
      Validations.of(this.fn).acknowledge({
        id: 'Serverless-LambdaTracing',
        reason: 'This stage’s target (LocalStack’s free plan) has no X-Ray; the AWS stages trace every function.',
      });
    }
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only actions without resource-level permissions use "*": xray:PutTraceSegments and xray:PutTelemetryRecords ' +
        '(active tracing) and, for stream consumers, dynamodb:ListStreams. test/infra asserts no other action gets "*".',
    });
  }

  /** Sets an environment variable; names come from the catalog. */
  setEnv(name: string, value: string): void {
    this.fn.addEnvironment(name, value);
  }

  /**
   * The table's name in `env`, and exactly the access the spec asks for. A
   * table with global secondary indexes also grants `<table>/index/*`.
   * Reading is item reads and queries only: `grantReadData` would add
   * `dynamodb:Scan` (and stream reads), and no function scans (DESIGN.md: no
   * scan on any request path).
   */
  bindTable(table: Table, env: string, access: Access, options: { readonly indexed: boolean }): void {
    this.setEnv(env, table.tableName);
    table.grant(this.fn, 'dynamodb:DescribeTable', ...tableActions(access));
    if (options.indexed) {
      const logicalId = Stack.of(table).getLogicalId(table.node.defaultChild as CfnElement);
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/index/*]`,
        reason: 'The wildcard covers the global secondary indexes of this one table, which its queries use.',
      });
    }
  }

  /** Reading the table's stream (DescribeStream, GetShardIterator, GetRecords on its stream; ListStreams has no resource-level permission). */
  bindStream(table: Table): void {
    table.grantStreamRead(this.fn);
  }

  bindTopic(topic: ITopic, env: string): void {
    this.setEnv(env, topic.topicArn);
    topic.grantPublish(this.fn);
    if (topic.masterKey) {
      const reason =
        'Publishing to a topic encrypted with the AWS managed key alias/aws/sns: its key id is unknown at synth, so the ' +
        'grant names key/* with kms:GenerateDataKey* and kms:Decrypt, restricted to that key by kms:ResourceAliases.';
      Validations.of(this.role).acknowledge(
        { id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]', reason },
        { id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]', reason },
      );
    }
  }

  /** Send access to the queue, and its URL in `env`. */
  bindQueue(queue: IQueue, env: string): void {
    this.setEnv(env, queue.queueUrl);
    queue.grantSendMessages(this.fn);
  }

  /**
   * Sending SMS by publishing straight to phone numbers (Amazon SNS). Such a
   * publish has no resource to name (a phone number has no ARN), so the
   * grant is `sns:Publish` on "*", and a deny on every SNS topic and
   * platform endpoint ARN keeps it to phone numbers.
   */
  allowSms(): void {
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: ['*'] }));
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        actions: ['sns:Publish'],
        resources: [Stack.of(this).formatArn({ service: 'sns', region: '*', account: '*', resource: '*' })],
      }),
    );
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only actions without resource-level permissions use "*": xray:PutTraceSegments and xray:PutTelemetryRecords ' +
        '(active tracing) and sns:Publish to phone numbers (an SMS has no ARN; a deny on every SNS topic and endpoint ARN ' +
        'keeps the grant to phone numbers). test/infra asserts no other action gets "*".',
    });
  }

  /** Sending email from one verified Amazon SES identity (domain or address), and nothing else of SES. */
  allowEmail(identity: string): void {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ses:SendEmail'],
        resources: [Stack.of(this).formatArn({ service: 'ses', resource: 'identity', resourceName: identity })],
      }),
    );
  }

  /** The key's ARN in `env`, and exactly the KMS actions of the access (KEY_ACTIONS), on that key alone. */
  bindKey(key: IKey, env: string, access: KeyAccess): void {
    this.setEnv(env, key.keyArn);
    key.grant(this.fn, ...KEY_ACTIONS[access]);
  }

  /** The secret's ARN (never its value) in `env`, and read access to it. */
  bindSecret(secret: ISecret, env: string): void {
    this.setEnv(env, secret.secretArn);
    secret.grantRead(this.fn);
  }
}
