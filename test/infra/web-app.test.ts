import { Match } from 'aws-cdk-lib/assertions';
import { apiCors } from '../../catalog/web';
import { stages } from '../../infra/stages';
import { logicalId, removeProjectRoot, stubProjectRoot, synth } from './synth';
import type { Synthesized } from './synth';

/** `https://` + the distribution's domain name, as CloudFormation spells it. */
const webUrlOf = (distributionId: string) => ({ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }]] });

describe('the web app on S3 and CloudFront (dev)', () => {
  let root: string;
  let s: Synthesized;
  let distributionId: string;
  let bucketId: string;

  beforeAll(() => {
    root = stubProjectRoot();
    s = synth({ projectRoot: root });
    distributionId = logicalId(s.stack.web!.distribution);
    bucketId = logicalId(s.stack.web!.bucket);
  });
  afterAll(() => removeProjectRoot(root));

  it('keeps the files in a private, encrypted bucket that only CloudFront reads, over TLS', () => {
    s.template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    const policy = Object.values(s.template.findResources('AWS::S3::BucketPolicy')).find((p) => JSON.stringify(p.Properties.Bucket).includes(bucketId))!;
    const statements = policy.Properties.PolicyDocument.Statement as { Effect: string; Principal: unknown; Action: unknown; Condition?: unknown }[];
    // Reads only by the CloudFront service for this distribution; every request without TLS is denied.
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: 'cloudfront.amazonaws.com' },
          Action: 's3:GetObject',
          Condition: { StringEquals: { 'AWS:SourceArn': expect.anything() } },
        }),
      ]),
    );
    expect(statements.filter((st) => st.Effect === 'Allow').every((st) => JSON.stringify(st.Principal).includes('cloudfront.amazonaws.com'))).toBe(true);
    s.template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
  });

  it('serves over HTTPS with security headers: a CSP that allows scripts from the app only and calls to the API and Cognito', () => {
    s.template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: 'index.html',
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https', AllowedMethods: ['GET', 'HEAD'], Compress: true }),
      }),
    });
    const [policy] = Object.values(s.template.findResources('AWS::CloudFront::ResponseHeadersPolicy'));
    const security = policy!.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    const csp = JSON.stringify(security.ContentSecurityPolicy.ContentSecurityPolicy);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain('.execute-api.');
    expect(csp).toContain('.amazoncognito.com');
    expect(security).toMatchObject({
      FrameOptions: { FrameOption: 'DENY' },
      ContentTypeOptions: { Override: true },
      ReferrerPolicy: { ReferrerPolicy: 'no-referrer' },
      StrictTransportSecurity: { AccessControlMaxAgeSec: 31_536_000 },
    });
  });

  it("sets the API's CORS for the distribution's origin, with the rules the local gateway applies", () => {
    s.template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: {
        AllowOrigins: [webUrlOf(distributionId)],
        AllowMethods: [...apiCors.allowMethods],
        AllowHeaders: [...apiCors.allowHeaders],
        ExposeHeaders: [...apiCors.exposeHeaders],
        MaxAge: apiCors.maxAgeSeconds,
        AllowCredentials: false,
      },
    });
  });

  it('gives the app a Cognito client for the hosted UI: code flow only, no secret, returning only to the app', () => {
    s.template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: ['openid', 'email', 'profile'],
      CallbackURLs: [{ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }, '/']] }],
      LogoutURLs: [{ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }, '/']] }],
      ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
      SupportedIdentityProviders: ['COGNITO'],
    });
    s.template.hasResourceProperties('AWS::Cognito::UserPoolDomain', { ManagedLoginVersion: 1 });
  });

  it('deploys the build and a config.json naming the API and the sign-in client, assets after index.html, invalidating what changes', () => {
    const deployments = s.template.findResources('Custom::CDKBucketDeployment');
    const root = Object.values(deployments).find((d) => d.Properties.DistributionPaths)!;
    const assets = Object.entries(deployments).find(([, d]) => !d.Properties.DistributionPaths)!;
    expect(root.Properties).toMatchObject({
      DestinationBucketName: { Ref: bucketId },
      DistributionId: { Ref: distributionId },
      DistributionPaths: ['/', '/index.html', '/config.json'],
      Prune: false,
      SystemMetadata: { 'cache-control': 'no-cache' },
    });
    expect(assets[1].Properties).toMatchObject({
      DestinationBucketKeyPrefix: 'assets/',
      Prune: false,
      SystemMetadata: { 'cache-control': 'public, max-age=31536000, immutable' },
    });
    expect(root.DependsOn).toEqual(expect.arrayContaining([assets[0]]));
    // config.json's deploy-time values: the API's id (its URL), the pool (the authority) and the web client.
    const markers = JSON.stringify(root.Properties.SourceMarkers);
    expect(markers).toContain(logicalId(s.stack.api.api));
    const clients = s.template.findResources('AWS::Cognito::UserPoolClient');
    const webClientId = Object.keys(clients).find((id) => clients[id]!.Properties.AllowedOAuthFlows)!;
    expect(markers).toContain(webClientId);
    expect(markers).toContain('ProviderURL');
    s.template.hasOutput('WebUrl', { Value: webUrlOf(distributionId) });
  });
});

describe('the LocalStack stage', () => {
  it('has no web app: its free plan has no CloudFront', () => {
    const root = stubProjectRoot();
    try {
      const { template, stack } = synth({ projectRoot: root, stage: stages.localstack });
      expect(stack.web).toBeUndefined();
      template.resourceCountIs('AWS::CloudFront::Distribution', 0);
      template.resourceCountIs('AWS::S3::Bucket', 0);
    } finally {
      removeProjectRoot(root);
    }
  });
});
