/**
 * The shapes of the catalog: one typed description of every table, topic,
 * queue, secret, setting and function with its triggers. The CDK stack and the
 * local runtime both read it, so nothing about a resource or trigger is
 * written twice.
 */

export type Role = 'user' | 'business' | 'operator';
export const ROLES: readonly Role[] = ['user', 'business', 'operator'];

/** What a function reads of its HTTP route at run time (functions/shared/catalog.generated.ts). */
export interface RuntimeRoute {
  /** The roles that may call it, or `public`. */
  readonly auth: 'public' | readonly Role[];
  /** A user route under /v1/me, which honours Global Privacy Control. */
  readonly userRouteOfMe: boolean;
}

export type AttributeType = 'S' | 'N';
export interface KeySpec {
  readonly name: string;
  readonly type: AttributeType;
}

export interface TableSpec {
  /** Environment variable that holds the table's name, the same in every function. */
  readonly env: string;
  readonly partitionKey: KeySpec;
  readonly sortKey?: KeySpec;
  /** TTL attribute, epoch seconds. */
  readonly ttlAttribute?: 'expiresAt';
  readonly stream?: 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES' | 'KEYS_ONLY';
  readonly globalIndexes?: readonly {
    readonly name: string;
    readonly partitionKey: KeySpec;
    readonly sortKey?: KeySpec;
  }[];
  /**
   * What kind of data it holds; the data class decides who may be granted
   * anything on the table (see `checkCatalog`): nothing on the audience side
   * touches `identity` or `messages` tables.
   */
  readonly dataClass: DataClass;
  /**
   * Items are only ever added: writers are granted `append` (PutItem), never
   * UpdateItem, DeleteItem or BatchWriteItem. TTL may still remove items
   * whose kind carries an expiry.
   */
  readonly appendOnly?: true;
}

export type DataClass = 'identity' | 'consent' | 'audience' | 'messages' | 'config';

export interface TopicSpec {
  readonly env: string;
}

export interface QueueSpec {
  readonly env: string;
  /** Seconds a received message stays invisible; at least 6x the consumer's timeout on AWS. */
  readonly visibilityTimeoutSeconds: number;
  /** Receives before a message moves to the queue's dead-letter queue. */
  readonly maxReceiveCount: number;
  /**
   * A FIFO queue (and dead-letter queue) in high-throughput mode: senders
   * give each message a group, and a group's messages are received one batch
   * at a time, in order, while groups go in parallel. Deduplication is per
   * group, on the id the sender gives.
   */
  readonly fifo?: boolean;
  /** SNS subscription with raw delivery, filtered on the `type` message attribute. */
  readonly subscription?: { readonly topic: string; readonly eventTypes?: readonly string[] };
}

export interface SecretSpec {
  /** Deployed: environment variable holding the secret's ARN. */
  readonly env: string;
  /** Local stack: environment variable holding the generated value itself. */
  readonly localEnv: string;
  readonly description: string;
}

/**
 * A key in AWS KMS when deployed; generated per stack in the local stack.
 * `sign`: an asymmetric ECC_NIST_P256 key (ES256 signatures, its public key
 * published); `encrypt`: a symmetric key that encrypts small values.
 */
export interface CryptoKeySpec {
  /** Deployed: environment variable holding the key's ARN. */
  readonly env: string;
  /** Local stack: environment variable holding the key material itself (a private JWK, or 32 bytes hex). */
  readonly localEnv: string;
  readonly usage: 'sign' | 'encrypt';
  readonly description: string;
}

/**
 * What a function may do with a key: `sign` (and read its public key),
 * `publish` (read the public key only), `encrypt`, `decrypt`.
 */
export type KeyAccess = 'sign' | 'publish' | 'encrypt' | 'decrypt';

export interface SettingSpec {
  readonly env: string;
  readonly description: string;
  readonly default: string;
}

/** How a message reaches a person outside the service. */
export type Channel = 'sms' | 'email';

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

export type Trigger =
  | {
      readonly kind: 'http';
      readonly method: HttpMethod;
      /** API Gateway route path, `{name}` for parameters. */
      readonly path: string;
      /** Roles allowed to call it, or 'public' for routes without a token. */
      readonly auth: readonly Role[] | 'public';
    }
  | {
      /** API Gateway's `$default` route: whatever no other route matches. */
      readonly kind: 'http-default';
    }
  | {
      readonly kind: 'queue';
      readonly queue: string;
      readonly batchSize: number;
      readonly maxBatchingWindowSeconds?: number;
      /** At most this many concurrent invocations (2-1000): a bound on what the consumer does to others, e.g. outgoing calls. */
      readonly maxConcurrency?: number;
    }
  | {
      readonly kind: 'stream';
      readonly table: string;
      readonly batchSize: number;
      /** Retries of a failing batch before its records go to `onFailure`. */
      readonly retryAttempts: number;
      readonly eventNames?: readonly ('INSERT' | 'MODIFY' | 'REMOVE')[];
      /** Queue that receives the metadata of records that kept failing. */
      readonly onFailure: string;
    };

/**
 * `append`: put new items only (with a condition), the one write an
 * append-only table allows. `write` and `readWrite` include updates, deletes
 * and batch writes.
 */
export type Access = 'read' | 'append' | 'write' | 'readWrite';

/** Which part of the service a function belongs to; the audience side never reads identities or messages. */
export type Side = 'consent' | 'audience' | 'messages';

export interface FunctionSpec {
  /** Source file, relative to the repository root, exporting `handler`. */
  readonly entry: string;
  readonly side: Side;
  readonly description: string;
  readonly memoryMB?: number;
  readonly timeoutSeconds?: number;
  readonly trigger: Trigger;
  readonly tables?: Readonly<Record<string, Access>>;
  /**
   * Tables whose streams it reads by itself (not as its trigger): it replays
   * the stream records an on-failure record points at.
   */
  readonly streams?: readonly string[];
  readonly topics?: readonly string[];
  readonly queues?: readonly string[];
  readonly secrets?: readonly string[];
  readonly keys?: Readonly<Record<string, KeyAccess>>;
  /**
   * Queues whose dead-letter queue it sends to itself: it gives up on a
   * message by its own rule (a retry window) rather than by maxReceiveCount.
   */
  readonly deadLetters?: readonly string[];
  readonly settings?: readonly string[];
  /**
   * Sends messages to people outside the service: `sms` to phone numbers
   * (Amazon SNS), `email` from the SES identity of the stage setting
   * `verificationEmailIdentity` (Amazon SES).
   */
  readonly delivers?: readonly Channel[];
  /**
   * Serves a data subject their own data across data classes (the export).
   * Only a `user` route may say so; it is exempt from the rule that nothing
   * on the audience side reads the messages tables.
   */
  readonly dataSubjectAccess?: true;
}

/** The shape of the catalog without its literal types, so tests can pass extended catalogs. */
export interface CatalogShape {
  readonly tables: Readonly<Record<string, TableSpec>>;
  readonly topics: Readonly<Record<string, TopicSpec>>;
  readonly queues: Readonly<Record<string, QueueSpec>>;
  readonly secrets: Readonly<Record<string, SecretSpec>>;
  /** Optional, so catalogs without keys (test fixtures) need not name them. */
  readonly keys?: Readonly<Record<string, CryptoKeySpec>>;
  readonly settings: Readonly<Record<string, SettingSpec>>;
  readonly functions: Readonly<Record<string, FunctionSpec>>;
}
