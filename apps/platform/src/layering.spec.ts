import { join } from 'node:path';
import { ESLint } from 'eslint';

/** The layering rule in eslint.config.mjs, applied to imports a lib must not make. */
describe('module boundaries (npm run lint)', () => {
  const root = join(__dirname, '..', '..', '..');
  // Only the import rules, and no type information: the files linted here do not exist.
  const eslint = new ESLint({
    cwd: root,
    overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
    ruleFilter: ({ ruleId }) =>
      ruleId === 'boundaries/dependencies' || ruleId === 'no-restricted-imports',
  });

  async function problems(file: string, code: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath: join(root, file) });
    return result.messages.map((m) => `${m.ruleId}: ${m.message}`);
  }

  it.each([
    [
      'libs/tenancy/src/x.ts',
      "import { ToolRegistry } from '@app/tools';",
      'tenancy may not import tools',
    ],
    [
      'libs/observability/src/x.ts',
      "import { Public } from '@app/auth';",
      'observability may not import auth',
    ],
    ['libs/auth/src/x.ts', "import { McpModule } from '@app/mcp';", 'auth may not import mcp'],
    ['libs/admin/src/x.ts', "import { McpModule } from '@app/mcp';", 'admin may not import mcp'],
    [
      'libs/config/src/x.ts',
      "import { DatabaseModule } from '@app/database';",
      'config may not import database',
    ],
  ])('refuses %s: %s', async (file, line, expected) => {
    const found = await problems(
      file,
      `${line}\nexport const used = [${/\{ (\w+) \}/.exec(line)![1]}];\n`,
    );
    expect(found).toEqual([expect.stringContaining(expected)]);
  });

  it('refuses a path into another lib, and accepts the layering as written', async () => {
    expect(
      await problems(
        'libs/mcp/src/x.ts',
        "import { Metrics } from '../../observability/src/metrics';\nexport const used = [Metrics];\n",
      ),
    ).toEqual([expect.stringContaining('import another lib as @app/<name>')]);
    expect(
      await problems(
        'libs/mcp/src/x.ts',
        "import { ToolRegistry } from '@app/tools';\nimport { TenantsService } from '@app/tenancy';\nexport const used = [ToolRegistry, TenantsService];\n",
      ),
    ).toEqual([]);
  });
});
