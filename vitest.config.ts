import { defineConfig } from 'vitest/config';

// Integration tests start real replica processes; give them room but keep the suite bounded.
const shared = {
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: 'forks' as const,
};

// A file named *.alone.test.ts measures latency or memory against a bound (the burst test's
// p99 and RSS): it runs after everything else, by itself, so the other files' replica processes
// are not competing with it for the two cores.
const ALONE = 'test/**/*.alone.test.ts';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: [ALONE, '**/node_modules/**'],
          fileParallelism: true,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: 'alone',
          include: [ALONE],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
