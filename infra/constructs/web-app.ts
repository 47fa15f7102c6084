import * as fs from 'node:fs';
import * as path from 'node:path';
import { Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { CfnElement } from 'aws-cdk-lib';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  PriceClass,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, CacheControl, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { contentSecurityPolicy } from '../../catalog/web';

export interface WebAppProps {
  /** The built web app (web/build.cjs writes dist/web): index.html and its hashed assets. */
  readonly assetDir: string;
  /** Of the deployment function's log group (the bucket holds only the public build and is always kept). */
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
}

/** What the app reads from /config.json (web/src/config.ts). */
export interface WebAppConfig {
  readonly apiUrl: string;
  readonly signIn: { readonly kind: 'oidc'; readonly authority: string; readonly clientId: string; readonly logoutUrl?: string };
}

/**
 * The web app, deployed: its static files in a private S3 bucket, served by
 * CloudFront through origin access control (the bucket has no public access
 * at all), HTTPS only, with security headers on every answer. The API is
 * another origin; its CORS configuration allows this distribution's.
 *
 * `deploy(config)` uploads the files and `/config.json` (the API's URL and
 * the sign-in client) once the API and the user pool exist: hashed assets
 * are cached for a year, index.html and config.json are revalidated on every
 * load and invalidated at each deployment.
 */
export class WebApp extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;
  private readonly props: WebAppProps;

  constructor(scope: Construct, id: string, props: WebAppProps) {
    super(scope, id);
    this.props = props;
    if (!fs.existsSync(path.join(props.assetDir, 'index.html'))) {
      throw new Error(`The web app is not built (no index.html in ${props.assetDir}): run \`npm run build:web\``);
    }

    this.bucket = new Bucket(this, 'Files', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Public static files only: kept when the stack goes, in every stage (`aws s3 rb --force` removes it).
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'The bucket holds only the web app build (public static files, no personal data) and is read by CloudFront alone through origin ' +
        'access control; access logs would record nothing but deployments. Calls with data are logged by the API stage.',
    });

    // Calls from the page go to the API and Cognito of this region only: both are AWS endpoints named here by pattern,
    // so the policy does not depend on the API (whose CORS configuration depends on this distribution).
    const region = Aws.REGION;
    const headers = new ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'Security headers of the web app',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: contentSecurityPolicy([
            `https://*.execute-api.${region}.amazonaws.com`,
            `https://cognito-idp.${region}.amazonaws.com`,
            `https://*.auth.${region}.amazoncognito.com`,
          ]),
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
      },
    });

    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'Web app: privacy choices, inbox and business console',
      defaultRootObject: 'index.html',
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
        compress: true,
      },
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason: "The app serves the messaging app's users wherever they are; no country is to be refused the page that shows their privacy choices.",
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          'The distribution serves static files only (GET and HEAD, cached); every call with data goes to the API, which has its own throttling. ' +
          'A web ACL is a cost to add per deployment if abuse shows up.',
      },
      {
        id: 'AwsSolutions-CFR3',
        reason:
          "CloudFront access logs would record every visitor's IP address and user agent for static files that carry no data; the API's " +
          'access logs record the calls that matter, with the caller as a subject id only.',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason:
          'The distribution uses the default *.cloudfront.net certificate, whose minimum protocol CloudFront fixes; an alias with its own ' +
          'ACM certificate and TLSv1.2_2021 is the choice of whoever deploys it under their domain.',
      },
    );
  }

  /** `https://<id>.cloudfront.net`: the app's address, and the origin the API allows. */
  get url(): string {
    return `https://${this.distribution.distributionDomainName}`;
  }

  /** Uploads the build and its /config.json, after the API and the user pool it names exist. */
  deploy(config: WebAppConfig): void {
    const logGroup = new LogGroup(this, 'DeploymentLogs', { retention: this.props.logRetention, removalPolicy: this.props.logRemovalPolicy });
    const assets = new BucketDeployment(this, 'Assets', {
      logGroup,
      destinationBucket: this.bucket,
      destinationKeyPrefix: 'assets/',
      sources: [Source.asset(path.join(this.props.assetDir, 'assets'), { exclude: ['*.map'] })],
      cacheControl: [CacheControl.setPublic(), CacheControl.maxAge(Duration.days(365)), CacheControl.immutable()],
      // Pages still open may ask for the previous build's chunks.
      prune: false,
      memoryLimit: 256,
    });
    const root = new BucketDeployment(this, 'Root', {
      logGroup,
      destinationBucket: this.bucket,
      sources: [Source.asset(this.props.assetDir, { exclude: ['assets', 'assets/**', 'build.json'] }), Source.jsonData('config.json', config)],
      cacheControl: [CacheControl.noCache()],
      prune: false,
      distribution: this.distribution,
      distributionPaths: ['/', '/index.html', '/config.json'],
      memoryLimit: 256,
    });
    // index.html names the new assets: they are in place first.
    root.node.addDependency(assets);
    this.acknowledgeDeploymentFunction(assets.handlerRole);
  }

  /**
   * CDK's BucketDeployment runs one function (a singleton at the stack's
   * root) that copies the build into the bucket during a deployment and
   * invalidates CloudFront. It is CDK's own code, invoked by CloudFormation
   * only; its findings are about that.
   */
  private acknowledgeDeploymentFunction(role: IRole): void {
    const fn = Stack.of(this)
      .node.children.filter((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'))
      .find((c) => c.node.findAll().some((child) => child === role || child === role.node.defaultChild));
    if (!fn) throw new Error("BucketDeployment's function was not found: CDK changed where it puts it");
    const what = "CDK's BucketDeployment function, run by CloudFormation during a deployment to copy the web app's build into its bucket";
    const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnElement);
    const wildcards = `${what}, reads the CDK asset bucket and writes the web bucket (wildcards on objects within those two buckets only), and invalidates the distribution (CloudFront invalidations take no narrower resource in CDK's grant).`;
    Validations.of(fn).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: `${what}, logs with the AWS managed basic execution policy that CDK attaches to it.`,
      },
      ...['s3:GetBucket*', 's3:GetObject*', 's3:List*', 's3:Abort*', 's3:DeleteObject*'].map((action) => ({
        id: `AwsSolutions-IAM5[Action::${action}]`,
        reason: wildcards,
      })),
      { id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]', reason: wildcards },
      { id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`, reason: wildcards },
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: wildcards },
      { id: 'AwsSolutions-L1', reason: `${what}, runs on the runtime CDK pins for its handler code; it is updated with aws-cdk-lib.` },
      { id: 'Serverless-LambdaLatestVersion', reason: `${what}, runs on the runtime CDK pins for its handler code; it is updated with aws-cdk-lib.` },
      { id: 'Serverless-LambdaDLQ', reason: `${what}, is invoked synchronously by CloudFormation, which reports a failure as a failed deployment.` },
      { id: 'Serverless-LambdaTracing', reason: `${what}, runs only during deployments; its logs and CloudFormation's events show what it did.` },
    );
  }
}
