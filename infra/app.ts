#!/usr/bin/env node
import * as path from 'node:path';
import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { ISSUER_KEY_FILE, publicPart, readIssuerKey } from './localstack/issuer-key';
import { ConsentAudiencesStack } from './stack';
import { ConfigurationError, stageConfig, withFeaturePlan } from './stages';

/**
 * `npx cdk synth -c stage=prod`. The stack is environment-agnostic, so synth
 * needs no AWS account. Context values:
 *
 * - `stage`: dev (default), prod or localstack (infra/stages.ts).
 * - `userPoolFeaturePlan`: essentials or plus, instead of the stage's choice.
 * - `jwtIssuer=https://...` with `jwtAudience=a,b`: trust an external token
 *   issuer instead of creating a Cognito user pool.
 *
 * A mistake in them ends synthesis with one line on stderr, not a stack trace.
 */
function main(): void {
  const app = new App();
  const context = (name: string): string | undefined => {
    const value: unknown = app.node.tryGetContext(name);
    return value === undefined ? undefined : String(value);
  };
  let stage = stageConfig(context('stage') ?? 'dev');
  const plan = context('userPoolFeaturePlan');
  if (plan !== undefined) stage = withFeaturePlan(stage, plan);

  const issuer = context('jwtIssuer');
  const audience = context('jwtAudience');
  if ((issuer === undefined) !== (audience === undefined)) throw new ConfigurationError('Set both jwtIssuer and jwtAudience, or neither');
  if (issuer !== undefined && !/^https:\/\/\S+$/.test(issuer)) throw new ConfigurationError(`jwtIssuer must be an https:// URL, not "${issuer}"`);
  if (issuer !== undefined && stage.identity.kind !== 'cognito') {
    throw new ConfigurationError(`The ${stage.name} stage trusts its development issuer only; jwtIssuer does not apply to it`);
  }

  let developmentIssuer: { publicJwk: ReturnType<typeof publicPart> } | undefined;
  if (stage.identity.kind === 'development-issuer') {
    const key = readIssuerKey(path.resolve(__dirname, '..'));
    if (!key) {
      throw new ConfigurationError(
        `The ${stage.name} stage trusts a development issuer whose key is in ${ISSUER_KEY_FILE}, which does not exist: run \`npm run deploy:localstack\`, which creates it`,
      );
    }
    developmentIssuer = { publicJwk: publicPart(key) };
  }

  // The web app's files, built afresh when a source is newer than the build (npm ci builds them too).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the build script is CommonJS, shared with `npm ci`
  const webAssets = stage.target === 'aws' ? (require('../web/build.cjs') as { ensureWeb(): string }).ensureWeb() : undefined;

  new ConsentAudiencesStack(app, `ConsentAudiences-${stage.name}`, {
    stage,
    jwt: issuer === undefined ? undefined : { issuer, audience: audience!.split(',') },
    developmentIssuer,
    ...(webAssets && { webAssets }),
  });

  Tags.of(app).add('service', 'consent-audiences');
  Tags.of(app).add('stage', stage.name);

  // Synthesis fails on any cdk-nag finding that is not acknowledged with a reason.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
}

try {
  main();
} catch (error) {
  if (!(error instanceof ConfigurationError)) throw error;
  process.stderr.write(`Error: ${error.message}\n`);
  process.exit(1);
}
