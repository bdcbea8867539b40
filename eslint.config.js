// ESLint (flat config): typescript-eslint's strict type-checked preset for TypeScript, eslint's
// recommended rules for the plain JavaScript scripts; no stylistic rules (prettier formats).
// `npm run lint` runs it with --max-warnings 0.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeGlobals = Object.fromEntries(
  [
    'process',
    'console',
    'performance',
    'URL',
    'Buffer',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'TextEncoder',
    'TextDecoder',
    'fetch',
  ].map((g) => [g, 'readonly']),
);

export default tseslint.config(
  { ignores: ['dist/**', 'dist.*/**', 'node_modules/**', 'bench/results/**', 'coverage/**'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.strictTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Unused locals and parameters are errors; a leading `_` marks one kept on purpose.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { args: 'after-used', argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Messages interpolate numbers everywhere (`port ${port}`); that is not a bug.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `(s) => io.out(s)` is the house idiom for callbacks; a void-returning arrow body is fine.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
    },
  },
  {
    // Tests: fixtures are indexed under noUncheckedIndexedAccess (`rows[0]!`), CLI `--json` output is
    // parsed into `any` and checked by the assertions themselves, and async doubles implement async
    // ports without awaiting. The product code keeps every one of these rules.
    files: ['**/__tests__/**/*.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  { files: ['**/*.{js,mjs,cjs}'], languageOptions: { globals: nodeGlobals } },
);
