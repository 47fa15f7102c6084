/**
 * Routes of CONTRACT.md that the generated document (client/api/schema.ts)
 * does not describe yet, typed the way `openapi-typescript` writes them, so
 * the web app calls them through the same typed client. `WebPaths` (./index.ts)
 * lets the generated types win for every path they have: once a route lands
 * in the document, its entry here is no longer used, and it can be deleted.
 * At run time the app asks the served /openapi.json whether a route exists
 * before it offers the screen that needs it.
 */
import type { components } from '../../../client/api/schema';

type Problem = components['schemas']['Problem'];

interface NoParameters {
  query?: never;
  header?: never;
  path?: never;
  cookie?: never;
}

interface JsonAnswer<T> {
  headers: { [name: string]: unknown };
  content: { 'application/json': T };
}
interface EmptyAnswer {
  headers: { [name: string]: unknown };
  content?: never;
}
interface ProblemAnswer {
  headers: { [name: string]: unknown };
  content: { 'application/problem+json': Problem };
}
type Errors = { [status in 400 | 401 | 403 | 404 | 409 | 410 | 413 | 415 | 429 | 500]: ProblemAnswer };

type Parameters<Path> = [Path] extends [never] ? NoParameters : Omit<NoParameters, 'path'> & { path: Path };
type RequestBody<Body> = [Body] extends [never] ? { requestBody?: never } : { requestBody: { content: { 'application/json': Body } } };
type Operation<Path, Body, Answers> = { parameters: Parameters<Path>; responses: Answers & Partial<Errors> } & RequestBody<Body>;

interface PathItem {
  parameters: NoParameters;
  get?: never;
  put?: never;
  post?: never;
  delete?: never;
  options?: never;
  head?: never;
  patch?: never;
  trace?: never;
}

export interface Verification {
  verificationId: string;
  expiresAt: string;
}
export interface VerificationCode {
  verificationId: string;
  code: string;
}
export interface UserKey {
  keyId: string;
  publicKey: string;
  createdAt: string;
}
export interface RecipientKey {
  keyId: string;
  publicKey: string;
}
export interface Block {
  businessId: string;
  blockedAt: string;
}

export interface PendingPaths {
  '/v1/me/phone/verification': Omit<PathItem, 'post'> & {
    post: Operation<never, { phoneNumber: string }, { 202: JsonAnswer<Verification> }>;
  };
  '/v1/me/email/verification': Omit<PathItem, 'post'> & {
    post: Operation<never, { email: string }, { 202: JsonAnswer<Verification> }>;
  };
  '/v1/me/keys': Omit<PathItem, 'put'> & {
    put: Operation<never, { publicKey: string }, { 200: JsonAnswer<UserKey> }>;
  };
  '/v1/recipients/{phoneNumber}/key': Omit<PathItem, 'get'> & {
    get: Operation<{ phoneNumber: string }, never, { 200: JsonAnswer<RecipientKey> }>;
  };
  '/v1/me/blocks': Omit<PathItem, 'get'> & {
    get: Operation<never, never, { 200: JsonAnswer<{ items: Block[] }> }>;
  };
  '/v1/me/blocks/{businessId}': Omit<PathItem, 'put' | 'delete'> & {
    put: Operation<{ businessId: string }, never, { 204: EmptyAnswer }>;
    delete: Operation<{ businessId: string }, never, { 204: EmptyAnswer }>;
  };
}
