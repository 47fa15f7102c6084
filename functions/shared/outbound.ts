/**
 * The one way the service calls out to a URL someone else chose: a POST to a
 * business's webhook endpoint. Server-side request forgery is kept out at
 * the socket: a DNS name is resolved by a lookup that refuses any address
 * that is not public unicast and hands the connection only the addresses it
 * checked, so a name that resolves to a public address when checked and to
 * 169.254.169.254 or a private address a moment later (DNS rebinding) never
 * gets a connection there. Redirects are not followed; the whole call has a
 * deadline; the response body is read (bounded) and dropped.
 */
import { lookup as dnsLookup } from 'node:dns';
import type { LookupAddress } from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import type { LookupFunction } from 'node:net';
import { isPublicAddress, resolvesPublicly } from '../core/webhooks';
import type { WebhookTarget } from '../core/webhooks';

/** The deadline of one delivery: connection, TLS, request and response. */
export const OUTBOUND_TIMEOUT_MS = 5_000;
const MAX_RESPONSE_BYTES = 64 * 1024;

export class ForbiddenAddress extends Error {
  override readonly name = 'ForbiddenAddress';
  readonly code = 'EFORBIDDENADDRESS';
}

/** A `dns.lookup` that answers only with public unicast addresses, or fails. */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { all: true, verbatim: true, ...(options.family ? { family: options.family } : {}) }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0);
    if (!resolvesPublicly(addresses.map((a) => a.address))) return callback(new ForbiddenAddress('The name resolves to an address that is not public'), '', 0);
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    return callback(null, addresses[0]!.address, addresses[0]!.family);
  });
};

/** Resolves a name as a delivery would, for checking a URL when it is registered. */
export function resolveAll(hostname: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses.map((a) => a.address)))),
  );
}

export type PostResult = { readonly kind: 'answered'; readonly status: number } | { readonly kind: 'failed'; readonly reason: string };

/** POSTs `body` to the target; never throws. The reason of a failure is a short code, never the URL or what the other side sent. */
export function post(target: WebhookTarget, body: string, headers: Readonly<Record<string, string>>, timeoutMs = OUTBOUND_TIMEOUT_MS): Promise<PostResult> {
  if (target.kind === 'https-address' && !isPublicAddress(target.url.hostname.replace(/^\[|\]$/g, ''))) {
    return Promise.resolve({ kind: 'failed', reason: 'forbidden-address' });
  }
  const client = target.kind === 'local-loopback' ? http : https;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: PostResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(result);
    };
    const request = client.request(
      target.url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body, 'utf8')) },
        ...(target.kind === 'https-name' ? { lookup: publicOnlyLookup } : {}),
        agent: false,
      },
      (response) => {
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_RESPONSE_BYTES) response.destroy();
        });
        response.on('close', () => finish({ kind: 'answered', status: response.statusCode ?? 0 }));
        response.on('error', () => finish({ kind: 'answered', status: response.statusCode ?? 0 }));
      },
    );
    const deadline = setTimeout(() => {
      request.destroy();
      finish({ kind: 'failed', reason: 'timeout' });
    }, timeoutMs);
    request.on('error', (error: NodeJS.ErrnoException) => {
      finish({
        kind: 'failed',
        reason: error instanceof ForbiddenAddress || error.code === 'EFORBIDDENADDRESS' ? 'forbidden-address' : (error.code ?? 'network-error'),
      });
    });
    request.end(body);
  });
}
