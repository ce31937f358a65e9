/** Real-host suite: a real n8n and a real Node-RED process run the packed package. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/hosts'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  globalSetup: '<rootDir>/test/support/specSetup.ts',
  testTimeout: 600000,
};
