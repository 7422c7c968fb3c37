// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import boundaries from 'eslint-plugin-boundaries';

/**
 * The layering of ../shared/DESIGN.md, checked: each lib may import only the libs listed for it
 * (through `@app/<name>`, never a path into another lib's files). Anything not listed is refused.
 *
 *   mcp, admin → tools → auth → tenancy → database → config
 *   ops (the /healthz, /readyz and /metrics endpoints) → auth
 *   ratelimit, observability, audit: leaves on config and database that anything above may call
 *   egress (the outbound-fetch policy): a leaf on config, for auth (JWKS) and sources
 *   sources (tenants' upstream MCP servers and OpenAPI services) → tools, egress; admin → sources
 *   console (serves the web console's build at /console): a leaf
 */
const LAYERS = {
  config: [],
  database: ['config'],
  ratelimit: ['config'],
  observability: ['config', 'database'],
  audit: ['config', 'database', 'observability'],
  tenancy: ['config', 'database', 'observability'],
  egress: ['config'],
  auth: ['config', 'database', 'tenancy', 'ratelimit', 'observability', 'audit', 'egress'],
  tools: ['config', 'database', 'tenancy', 'auth', 'observability', 'audit'],
  mcp: ['config', 'database', 'tenancy', 'auth', 'tools', 'ratelimit', 'observability', 'audit'],
  sources: ['config', 'database', 'tenancy', 'auth', 'tools', 'observability', 'audit', 'egress'],
  admin: ['config', 'database', 'tenancy', 'auth', 'tools', 'observability', 'audit', 'sources', 'egress'],
  ops: ['config', 'database', 'auth', 'observability'],
  console: [],
};
const LIBS = Object.keys(LAYERS);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'scripts/**', 'eslint.config.mjs', 'coverage/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  prettier,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'import/resolver': { typescript: { project: './tsconfig.json' } },
      'boundaries/elements': [
        ...LIBS.map((lib) => ({ type: lib, pattern: `libs/${lib}` })),
        { type: 'app', pattern: 'apps/*' },
      ],
    },
    rules: {
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          policies: [
            ...Object.entries({ ...LAYERS, app: ['app', ...LIBS] }).map(([from, to]) => ({
              from: { element: { type: from } },
              allow: { to: { element: { types: { anyOf: [from, ...to] } } } },
            })),
          ],
          message:
            '{{from.type}} may not import {{to.type}}: see the layering in eslint.config.mjs',
        },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@app/*/*'], message: 'import a lib through its index: @app/<name>' },
            {
              group: ['**/libs/**', '../../*/src/**'],
              message: 'import another lib as @app/<name>',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', '**/*.spec.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
