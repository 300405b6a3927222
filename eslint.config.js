// ESLint with typescript-eslint's type-aware rules. typescript-eslint needs TypeScript's JS API, which
// TypeScript 7 (the native compiler `npm run typecheck` uses for speed) no longer has, so the linter runs on
// TypeScript 6 (`typescript`) and the type-check on TypeScript 7 (`typescript7`). Run by `npm run lint` and by
// test/style/lint.test.ts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'test/fixtures/', 'test/template/corpus/', 'deploy/', 'csi/generated/', '**/*.go'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Prettier wraps code at 120 columns; this catches the strings and comments it cannot wrap.
      'max-len': ['error', { code: 160, ignoreUrls: true, ignoreRegExpLiterals: true }],
      // TypeScript checks names itself (typescript-eslint's advice for TS sources).
      'no-undef': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Tests and benchmarks read JSON from kubectl, servers and files and assert on it: typing each parse would
    // only restate the assertion, so values of type any are allowed there (never in product code).
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
);
