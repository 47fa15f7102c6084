#!/usr/bin/env node
import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { ConsentAudiencesStack } from './stack';
import { stageConfig } from './stages';

/**
 * `npx cdk synth -c stage=prod`. The stack is environment-agnostic, so synth
 * needs no AWS account. Optional `-c jwtIssuer=https://... -c jwtAudience=a,b`
 * trusts an external token issuer instead of creating a Cognito user pool.
 */
const app = new App();
const stage = stageConfig(String(app.node.tryGetContext('stage') ?? 'dev'));

const issuer: unknown = app.node.tryGetContext('jwtIssuer');
const audience: unknown = app.node.tryGetContext('jwtAudience');
if ((issuer === undefined) !== (audience === undefined)) throw new Error('Set both jwtIssuer and jwtAudience, or neither');

new ConsentAudiencesStack(app, `ConsentAudiences-${stage.name}`, {
  stage,
  jwt: issuer === undefined ? undefined : { issuer: String(issuer), audience: String(audience).split(',') },
});

Tags.of(app).add('service', 'consent-audiences');
Tags.of(app).add('stage', stage.name);

// Synthesis fails on any cdk-nag finding that is not acknowledged with a reason.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
