/**
 * Two jest projects over every workspace; packages resolve to their sources, so tests need no build of them.
 * `*.spec.ts` files are unit tests: they need no Redis, so their project starts none. `*.test.ts` files are
 * integration tests, and their project's global set-up provides the Redis they share.
 */
const shared = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
  },
  moduleNameMapper: {
    '^@redis-ingest/(redis-schema|service-kit|test-utils|client)$': '<rootDir>/packages/$1/src',
  },
};

const roots = (suffix) => [
  `<rootDir>/{apps,packages}/*/src/**/*.${suffix}`,
  `<rootDir>/bench/src/**/*.${suffix}`,
  `<rootDir>/test/**/*.${suffix}`,
];

module.exports = {
  testTimeout: 30_000,
  projects: [
    { ...shared, displayName: 'unit', testMatch: roots('spec.ts') },
    {
      ...shared,
      displayName: 'integration',
      testMatch: roots('test.ts'),
      globalSetup: '<rootDir>/packages/test-utils/src/jest-global-setup.ts',
      globalTeardown: '<rootDir>/packages/test-utils/src/jest-global-teardown.ts',
    },
  ],
};
