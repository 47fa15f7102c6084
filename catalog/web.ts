/**
 * What the web app and the API agree on, read by the CDK stack and the local
 * stack alike.
 *
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
  /**
   * Browsers with Global Privacy Control add `Sec-GPC` themselves, outside
   * CORS. It is listed anyway, so a client that adds the header as a request
   * header (a privacy extension, or an automated browser's extra headers)
   * passes the preflight instead of failing every call.
   */
  allowHeaders: ['authorization', 'content-type', 'idempotency-key', 'sec-gpc'],
  /** A 429 tells the client when to come back. */
  exposeHeaders: ['retry-after'],
  maxAgeSeconds: 3600,
} as const;

export type ApiCors = typeof apiCors;

/**
 * The web app's Content-Security-Policy: scripts and styles only from its own
 * origin, calls only to itself and the given origins (the API, the sign-in
 * provider), no framing. Served by CloudFront deployed and by the local web
 * server.
 */
export function contentSecurityPolicy(connect: readonly string[]): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ${connect.join(' ')}`.trim(),
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
  ].join('; ');
}
