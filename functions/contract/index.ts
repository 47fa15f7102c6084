import type { FunctionName } from '../../catalog';
import type { RouteContract } from '../shared/http';
import { openApiDocument } from '../shared/openapi';
import { audienceContracts } from './audiences';
import { ProblemSchema } from './common';
import * as consent from './consent';
import { messageContracts } from './messages';
import { notFound, openapi } from './meta';
import { eraseMe, exportMe } from './rights';
import { webhookContracts } from './webhooks';

type Contracts = Partial<Record<FunctionName, RouteContract>>;

/** The version of the API description (info.version). */
export const API_VERSION = '1.0.0';

/** The areas of the API: each is an OpenAPI tag, and every route collected under it carries that tag. */
export const apiTags = [
  { name: 'Identity', description: "The caller's phone number and email address" },
  { name: 'Policies', description: 'Privacy policy versions' },
  { name: 'Consent', description: "The user's decisions per purpose, each recorded as a receipt" },
  { name: 'Data subject rights', description: 'Export and erasure' },
  { name: 'Custom audiences', description: 'Audiences built from hashed customer lists, sized only as ranges' },
  { name: 'Messages', description: 'End-to-end encrypted transactional messages from businesses to users' },
  { name: 'Webhooks', description: "Signed events about a business's own messages and audiences, pushed to its endpoint" },
  { name: 'Meta', description: 'This API description' },
] as const;
export type ApiTag = (typeof apiTags)[number]['name'];

const tagged = (tag: ApiTag, contracts: Contracts): Contracts =>
  Object.fromEntries(Object.entries(contracts).map(([name, contract]) => [name, { ...contract, tag }]));

/** The contract of every HTTP function, by catalog name: the source of the OpenAPI document and of the generated client types. */
export const routeContracts: Contracts = {
  ...tagged('Identity', {
    startPhoneVerification: consent.startPhoneVerification,
    putPhone: consent.putPhone,
    startEmailVerification: consent.startEmailVerification,
    putEmail: consent.putEmail,
  }),
  ...tagged('Policies', { createPolicy: consent.createPolicy, getCurrentPolicy: consent.getCurrentPolicy }),
  ...tagged('Consent', {
    getConsent: consent.getConsent,
    putConsent: consent.putConsent,
    getConsentHistory: consent.getConsentHistory,
    getJwks: consent.getJwks,
  }),
  ...tagged('Data subject rights', { exportMe, eraseMe }),
  ...tagged('Custom audiences', audienceContracts),
  ...tagged('Messages', messageContracts),
  ...tagged('Webhooks', webhookContracts),
  ...tagged('Meta', { openapi, notFound }),
};

/** The OpenAPI document of the API: served at GET /openapi.json and the source of the generated client types (`npm run generate:api`). */
export const apiDocument = () => openApiDocument(routeContracts, { version: API_VERSION, tags: apiTags, problem: ProblemSchema });
