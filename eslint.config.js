import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Lint rules hold the layering of DESIGN section 3: only the codec touches msgpackr, only the
// store touches level, only src/http touches fastify, and src/core stays pure. ESLint replaces
// a rule per file instead of merging it, so each folder states its whole list.
const msgpackr = { name: 'msgpackr', message: 'Only src/net/frame-codec.ts encodes peer frames.' };
const level = [
  { name: 'level', message: 'Only src/storage talks to LevelDB.' },
  { name: 'classic-level', message: 'Only src/storage talks to LevelDB.' },
];
const fastify = { name: 'fastify', message: 'Only src/http builds the HTTP server.' };
const restrict = (paths, patterns = []) => ['error', { paths, patterns }];

export default tseslint.config(
  { ignores: ['dist/', 'data/', 'node_modules/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: { 'no-restricted-imports': restrict([msgpackr, ...level, fastify]) },
  },
  {
    files: ['src/net/frame-codec.ts'],
    rules: { 'no-restricted-imports': restrict([...level, fastify]) },
  },
  {
    files: ['src/storage/**/*.ts'],
    rules: { 'no-restricted-imports': restrict([msgpackr, fastify]) },
  },
  {
    files: ['src/http/**/*.ts'],
    rules: { 'no-restricted-imports': restrict([msgpackr, ...level]) },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict(
        [
          msgpackr,
          ...level,
          fastify,
          { name: 'node:net', message: 'src/core is pure: no sockets.' },
          { name: 'node:fs', message: 'src/core is pure: no files.' },
        ],
        [
          {
            group: [
              '../net/*',
              '../storage/*',
              '../http/*',
              '../replica/*',
              '../cli/*',
              '../client/*',
            ],
            message: 'src/core imports nothing above it.',
          },
        ],
      ),
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'console'],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Time comes in through a Clock.' },
        { object: 'Math', property: 'random', message: 'Randomness comes in through an Rng.' },
      ],
    },
  },
);
