// DynamoDB Local on 2 shared cores, and tests that wait out retries and leases: generous timeouts, never timing assertions.
// (`testTimeout` is a global option of jest, not one of a project.)
jest.setTimeout(60_000);
