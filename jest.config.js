/** One jest run over every workspace; packages resolve to their sources, so tests need no build of them. */
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/{apps,packages}/*/src/**/*.test.ts', '<rootDir>/bench/src/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
  },
  moduleNameMapper: {
    '^@redis-ingest/(redis-schema|service-kit|test-utils|client)$': '<rootDir>/packages/$1/src',
  },
  globalSetup: '<rootDir>/packages/test-utils/src/jest-global-setup.ts',
  globalTeardown: '<rootDir>/packages/test-utils/src/jest-global-teardown.ts',
  testTimeout: 30_000,
};
