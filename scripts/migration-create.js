#!/usr/bin/env node
// `npm run migration:create -- <name>`: a timestamped migration file to fill in and list in index.ts.
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const name = (process.argv[2] || '').replace(/[^A-Za-z0-9]/g, '');
if (!name) {
  process.stderr.write('usage: npm run migration:create -- <Name>\n');
  process.exit(2);
}
const ts = Date.now();
const cls = `${name[0].toUpperCase()}${name.slice(1)}${ts}`;
const file = join(__dirname, '../libs/database/src/migrations', `${ts}-${name}.ts`);
writeFileSync(
  file,
  `import { MigrationInterface, QueryRunner } from 'typeorm';

export class ${cls} implements MigrationInterface {
  name = '${cls}';

  async up(q: QueryRunner): Promise<void> {
    await q.query(\`\`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(\`\`);
  }
}
`,
);
process.stdout.write(`created ${file}\nadd ${cls} to libs/database/src/migrations/index.ts\n`);
