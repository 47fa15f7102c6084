import * as z from 'zod';
import type { RouteContract } from '../shared/http';
import { ProblemSchema } from './common';

export const openapi = {
  summary: 'This OpenAPI 3.1 document',
  responses: { 200: { description: 'The OpenAPI document', schema: z.object({ openapi: z.string() }).passthrough() } },
} satisfies RouteContract;

export const notFound = {
  summary: 'Any route that does not exist',
  responses: { 404: { description: 'No such route', schema: ProblemSchema } },
} satisfies RouteContract;
