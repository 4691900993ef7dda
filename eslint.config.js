// Type-aware linting (typescript-eslint) and the import rule between stages.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** What each stage must not import: data flows one way (README, Design). */
const STAGE_RULES = [
  {
    files: ['src/flow/**'],
    forbidden: ['inventory', 'azure', 'sources', 'state', 'enrich', 'ipfix', 'netflow', 'exporter', 'transport', 'cli', 'config', 'observability'],
  },
  {
    files: ['src/azure/**'],
    forbidden: ['inventory', 'sources', 'state', 'enrich', 'ipfix', 'netflow', 'exporter', 'transport', 'cli', 'config', 'observability'],
  },
  { files: ['src/state/**'], forbidden: ['inventory', 'sources', 'enrich', 'ipfix', 'netflow', 'exporter', 'transport', 'cli', 'config'] },
  { files: ['src/sources/**'], forbidden: ['inventory', 'enrich', 'ipfix', 'netflow', 'exporter', 'transport', 'cli', 'config'] },
  { files: ['src/enrich/**'], forbidden: ['inventory', 'sources', 'ipfix', 'netflow', 'exporter', 'transport', 'cli', 'config'] },
  { files: ['src/ipfix/**', 'src/netflow/**'], forbidden: ['inventory', 'azure', 'sources', 'state', 'enrich', 'exporter', 'transport', 'cli', 'config'] },
  // inventory/ (where names come from: files, Azure Resource Graph) is I/O at the edge, like sources/: flow/ and the SDKs only.
  {
    files: ['src/inventory/**'],
    forbidden: ['azure', 'sources', 'state', 'enrich', 'ipfix', 'netflow', 'exporter', 'transport', 'cli', 'config', 'observability'],
  },
  // report/ and coverage/ answer questions from parsed flows (and inventory's estate): they never encode or send.
  {
    files: ['src/report/**', 'src/coverage/**'],
    forbidden: ['ipfix', 'netflow', 'exporter', 'transport', 'cli', 'config', 'observability'],
  },
  { files: ['src/transport/**'], forbidden: ['inventory', 'azure', 'sources', 'state', 'enrich', 'ipfix', 'netflow', 'exporter', 'cli', 'config'] },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench-out/**', 'demo-output/**', 'tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  ...STAGE_RULES.map(({ files, forbidden }) => ({
    files,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: forbidden.flatMap((stage) => [`../${stage}/*`, `../../${stage}/*`]),
              message: 'a stage imports only earlier stages and flow/ (README, Design)',
            },
          ],
        },
      ],
    },
  })),
  {
    // Tests read JSON from decoders and child processes: untyped by nature.
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      'preserve-caught-error': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs'], extends: [tseslint.configs.disableTypeChecked], languageOptions: { globals: globals.node } },
);
