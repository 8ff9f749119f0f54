// The JS linter's rules for the page (www/), the benchmark page and these tests, run by
// scripts/test.sh: `tests/e2e/node_modules/.bin/eslint -c tests/e2e/eslint.config.mjs`.
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['**/node_modules/**', 'dist/**', 'target/**', '**/loupe-web*.js', 'www/vendor/d3.js'] },
  js.configs.recommended,
  {
    files: ['www/**/*.js', 'bench/**/*.js'],
    languageOptions: { ecmaVersion: 2024, sourceType: 'module', globals: { ...globals.browser, ...globals.worker } },
  },
  {
    files: ['tests/e2e/**/*.mjs', 'bench/**/*.mjs'],
    languageOptions: { ecmaVersion: 2024, sourceType: 'module', globals: { ...globals.node, ...globals.browser } },
  },
  {
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-var': 'error',
      'prefer-const': 'error',
    },
  },
];
