import type { FunctionName } from '../../catalog';
import type { RouteContract } from '../shared/http';
import { audienceContracts } from './audiences';
import * as consent from './consent';
import { messageContracts } from './messages';
import { notFound, openapi } from './meta';
import { eraseMe, exportMe } from './rights';

/** The contract of every HTTP function, by catalog name: the source of the OpenAPI document. */
export const routeContracts: Partial<Record<FunctionName, RouteContract>> = {
  putPhone: consent.putPhone,
  putEmail: consent.putEmail,
  createPolicy: consent.createPolicy,
  getCurrentPolicy: consent.getCurrentPolicy,
  getConsent: consent.getConsent,
  putConsent: consent.putConsent,
  getConsentHistory: consent.getConsentHistory,
  exportMe,
  eraseMe,
  ...audienceContracts,
  ...messageContracts,
  openapi,
  notFound,
};
