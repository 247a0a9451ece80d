import { defineConfig } from 'vitest/config';

// One run for the whole repository: unit tests beside the code (*.test.ts), integration tests per
// service (services/*/test), whole-platform tests (test/e2e). Two cores: files run two at a time.
export default defineConfig({
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'services/*/{src,test}/**/*.test.ts',
      'gateway/{src,test}/**/*.test.ts',
      'test/e2e/**/*.test.ts',
      'models/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
