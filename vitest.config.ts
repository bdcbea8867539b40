import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/__tests__/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/setup/has-assertions.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Integration files each start their own registry; two workers match the 2-core CI machine.
    pool: 'forks',
    // GitHub's workflow parser imports its JSON schema without an import attribute: let Vite load it.
    server: { deps: { inline: ['@actions/workflow-parser'] } },
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
