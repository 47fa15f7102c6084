import type { FunctionName } from '../../catalog';
import type { RouteContract } from '../shared/http';

/** Request and response schemas of the audiences routes, by catalog function name. */
export const audienceContracts: Partial<Record<FunctionName, RouteContract>> = {};
