/** @type {import('jest').Config} */
const transform = {
  '^.+\\.[cm]?[tj]sx?$': [
    'ts-jest',
    {
      tsconfig: { module: 'commonjs', moduleResolution: 'node10', allowJs: true, isolatedModules: true, esModuleInterop: true },
      diagnostics: false,
    },
  ],
};
// ESM-only packages that jest's CommonJS module system must transform.
const esmPackages = ['@middy', 'jose'];
const transformIgnorePatterns = [`/node_modules/(?!(${esmPackages.join('|')})/)`];

const common = { transform, transformIgnorePatterns, testEnvironment: 'node' };

module.exports = {
  // CI machines have 2 cores shared by DynamoDB Local, the emulators and the workers: generous timeouts, never timing
  // assertions. A global option: jest ignores testTimeout inside a project.
  testTimeout: 60_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts', '<rootDir>/test/handlers/**/*.test.ts'],
      setupFiles: ['<rootDir>/test/support/env.ts'],
    },
    { ...common, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'] },
    {
      // Handlers and services in process against one DynamoDB Local (started by the global setup); SNS and SQS mocked.
      ...common,
      displayName: 'store',
      testMatch: ['<rootDir>/test/store/**/*.test.ts'],
      globalSetup: '<rootDir>/test/store/global-setup.ts',
      globalTeardown: '<rootDir>/test/store/global-teardown.ts',
      setupFiles: ['<rootDir>/test/store/env.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/store/timeout.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/integration/global-setup.ts',
      globalTeardown: '<rootDir>/test/integration/global-teardown.ts',
    },
    {
      // The web app in Debian's Chromium (playwright-core) against one `npm start`, started by the global setup.
      ...common,
      displayName: 'browser',
      testMatch: ['<rootDir>/test/browser/**/*.test.ts'],
      globalSetup: '<rootDir>/test/browser/global-setup.ts',
      globalTeardown: '<rootDir>/test/browser/global-teardown.ts',
    },
  ],
};
