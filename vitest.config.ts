import { defineConfig } from 'vitest/config';

// Integration tests start real replica processes; give them room but keep the suite bounded.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
