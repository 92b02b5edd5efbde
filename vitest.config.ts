import { defineConfig } from 'vitest/config';

// Unit and Node integration tests live next to the code under src/; benchmarks (bench/) and
// browser e2e tests (Playwright) are not part of this run.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // ORT's wasm heap is large; one file per worker process keeps memory bounded on 2 cores.
    pool: 'forks',
    maxWorkers: 2,
  },
});
