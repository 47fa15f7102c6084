/**
 * Cross-origin rules of the API for the web app, which is served from
 * another origin than the API (deployed: CloudFront in front of S3, and the
 * API Gateway URL; locally: the web server of `npm start` and the gateway).
 * The CDK stack gives them to the HTTP API's CORS configuration and the local
 * gateway applies them the way API Gateway does, so a browser meets the same
 * preflight answers in both places. Tokens travel as bearer headers, never as
 * cookies, so credentials are not allowed.
 */
export const apiCors = {
  allowMethods: ['GET', 'PUT', 'POST', 'DELETE'],
  /** `Sec-GPC` needs no entry: browsers set it themselves and CORS does not cover it. */
  allowHeaders: ['authorization', 'content-type', 'idempotency-key'],
  /** A 429 tells the client when to come back. */
  exposeHeaders: ['retry-after'],
  maxAgeSeconds: 3600,
} as const;

export type ApiCors = typeof apiCors;
