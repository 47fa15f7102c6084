import type { FunctionName } from '../../catalog';
import type { RouteContract } from '../shared/http';

/** Request and response schemas of the messages routes, by catalog function name. */
export const messageContracts: Partial<Record<FunctionName, RouteContract>> = {};
