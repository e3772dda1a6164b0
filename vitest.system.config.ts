import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/system/**/*.test.ts'],
    testTimeout: 1_200_000,
    hookTimeout: 1_200_000,
  },
});
