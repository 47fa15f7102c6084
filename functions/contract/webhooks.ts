import * as z from 'zod';
import type { FunctionName } from '../../catalog';
import { MAX_WEBHOOK_SECRET_CHARS, MAX_WEBHOOK_URL_CHARS, MIN_WEBHOOK_SECRET_CHARS } from '../core/webhooks';
import type { RouteContract } from '../shared/http';
import { IsoTime, ProblemSchema, authErrors, bodyErrors } from './common';

export const WebhookView = z
  .object({
    url: z.string(),
    createdAt: IsoTime,
  })
  .meta({ id: 'Webhook', description: 'The registered endpoint; the secret is never returned' });

export const putWebhook = {
  summary: "Register (or replace) the caller's webhook endpoint and signing secret",
  body: z
    .strictObject({
      url: z.string().min(1).max(MAX_WEBHOOK_URL_CHARS).meta({
        description:
          'An https URL whose host resolves only to public addresses (checked now and at every delivery). Local stacks also take http://127.0.0.1:<port>/...',
      }),
      secret: z
        .string()
        .min(MIN_WEBHOOK_SECRET_CHARS)
        .max(MAX_WEBHOOK_SECRET_CHARS)
        .regex(/^[\x21-\x7e]+$/, 'Must be printable ASCII without spaces')
        .meta({ description: 'The HMAC-SHA256 key of X-Signature-256; stored encrypted, never returned' }),
    })
    .meta({ id: 'WebhookRegistration' }),
  responses: {
    200: { description: 'Registered', schema: WebhookView },
    ...bodyErrors,
    ...authErrors,
  },
} satisfies RouteContract;

export const getWebhook = {
  summary: "The caller's webhook endpoint (never its secret)",
  responses: {
    200: { description: 'The registered endpoint', schema: WebhookView },
    ...authErrors,
    404: { description: 'No webhook registered', schema: ProblemSchema },
  },
} satisfies RouteContract;

export const deleteWebhook = {
  summary: "Remove the caller's webhook; events not yet delivered are dropped",
  responses: { 204: { description: 'Removed (or there was none)' }, ...authErrors },
} satisfies RouteContract;

export const webhookContracts: Partial<Record<FunctionName, RouteContract>> = { putWebhook, getWebhook, deleteWebhook };
