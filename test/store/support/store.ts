/**
 * What the store project's global setup and its test files agree on: the
 * variable that carries DynamoDB Local's endpoint to the workers, and the
 * physical names of the catalog's tables there. Pure: no I/O.
 */
import type { Resolver, TableName } from '../../../catalog';
import { fakeResolver } from '../../support/fake-resources';

/** Set by the global setup; jest's workers inherit it. */
export const STORE_ENDPOINT_ENV = 'STORE_DYNAMODB_ENDPOINT';

/** DynamoDB table names need at least 3 characters; the prefix guarantees it. */
export const storeTableName = (logical: string): string => `store-${logical}`;

/** Tables are the real ones in DynamoDB Local; topics, queues and secrets keep the fake names of handler tests (SNS and SQS stay mocked). */
export const storeResolver: Resolver = { ...fakeResolver, table: storeTableName };

export const tableOf = (logical: TableName): string => storeTableName(logical);
