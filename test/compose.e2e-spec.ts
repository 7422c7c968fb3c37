/**
 * Static checks of the container wiring: docker-compose.yml, the Dockerfile and .dockerignore.
 * Nothing is started here (no Docker needed); the point is to catch a miswired file before
 * `docker compose up` does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import * as ts from 'typescript';
import { parse } from 'yaml';

const root = join(__dirname, '..');
const read = (file: string): string => readFileSync(join(root, file), 'utf8');

type Env = Record<string, string | undefined>;

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  environment?: string[] | Record<string, string | number | boolean | null>;
  depends_on?: string[] | Record<string, { condition?: string } | null>;
  ports?: (string | number | { target: number | string; published?: number | string })[];
  volumes?: (string | { source?: string; target: string })[];
  healthcheck?: { test?: string | string[]; disable?: boolean; [key: string]: unknown };
  profiles?: string[];
  restart?: string;
}

interface ComposeFile {
  services?: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

interface NestProject {
  type?: string;
  root?: string;
  sourceRoot?: string;
  entryFile?: string;
  compilerOptions?: { tsConfigPath?: string };
}

interface NestCli extends NestProject {
  projects?: Record<string, NestProject>;
}

/** Docker Compose variable interpolation: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}. */
function interpolate(value: string, env: Env): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|-|:\?|\?)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match: string, name?: string, op?: string, arg?: string, bare?: string) => {
      if (match === '$$') return '$';
      if (bare) return env[bare] ?? '';
      const v = env[name!];
      const unsetOrEmpty = v === undefined || v === '';
      switch (op) {
        case ':-':
          return unsetOrEmpty ? arg! : v;
        case '-':
          return v === undefined ? arg! : v;
        case ':?':
          if (unsetOrEmpty) throw new Error(`required variable ${name}: ${arg}`);
          return v;
        case '?':
          if (v === undefined) throw new Error(`required variable ${name}: ${arg}`);
          return v;
        case undefined:
          return v ?? '';
        default:
          throw new Error(`unsupported operator ${op}`);
      }
    },
  );
}

/** A service's `environment`, as written (list or map form), values as strings. */
function rawEnv(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const i = entry.indexOf('=');
        return i < 0 ? [entry, ''] : [entry.slice(0, i), entry.slice(i + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

function resolvedEnv(service: Service, shell: Env): Record<string, string> {
  return Object.fromEntries(
    Object.entries(rawEnv(service)).map(([k, v]) => [k, interpolate(v, shell)]),
  );
}

/** `depends_on` in list or map form, as a map of service name to condition. */
function dependsOn(service: Service): Record<string, string> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, 'service_started']));
  return Object.fromEntries(
    Object.entries(deps).map(([k, v]) => [k, v?.condition ?? 'service_started']),
  );
}

/** Published ports as {host, container}; short ("[ip:]host:container[/proto]") and long syntax. */
function ports(service: Service): { host: string; container: string }[] {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'object') {
      return { host: String(p.published ?? ''), container: String(p.target) };
    }
    const parts = String(p)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    const container = parts[parts.length - 1];
    return { host: parts.length > 1 ? parts[parts.length - 2] : '', container };
  });
}

/** Mounted volumes as {source, target}; short ("src:dst[:mode]") and long syntax. */
function mounts(service: Service): { source: string; target: string }[] {
  return (service.volumes ?? []).map((v) => {
    if (typeof v === 'object') return { source: v.source ?? '', target: v.target };
    const [source, target] = v.split(':');
    return target === undefined ? { source: '', target: source } : { source, target };
  });
}

function healthcheckText(service: Service): string {
  const test = service.healthcheck?.test ?? '';
  return Array.isArray(test) ? test.join(' ') : test;
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

interface Instruction {
  cmd: string;
  args: string;
}
interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let current = '';
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed.startsWith('#')) continue; // comments (also allowed inside continuations)
    if (!current && !trimmed) continue;
    if (trimmed.endsWith('\\')) {
      current += trimmed.slice(0, -1) + ' ';
      continue;
    }
    logical.push((current + trimmed).trim());
    current = '';
  }
  if (current.trim()) logical.push(current.trim());

  const stages: Stage[] = [];
  for (const line of logical) {
    const m = /^(\S+)\s*(.*)$/s.exec(line)!;
    const instruction = { cmd: m[1].toUpperCase(), args: m[2].trim() };
    if (instruction.cmd === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const as = words.findIndex((w) => w.toUpperCase() === 'AS');
      stages.push({ image: words[0], name: as >= 0 ? words[as + 1] : undefined, instructions: [] });
    } else if (stages.length) {
      stages[stages.length - 1].instructions.push(instruction);
    }
  }
  return stages;
}

/** Shell-like word splitting with single/double quotes. */
function words(s: string): string[] {
  return [...s.matchAll(/(?:[^\s"']+|"(?:[^"\\]|\\.)*"|'[^']*')+/g)].map((m) =>
    m[0].replace(/"((?:[^"\\]|\\.)*)"|'([^']*)'/g, (_q, d?: string, q?: string) => d ?? q ?? ''),
  );
}

function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { cmd, args } of stage.instructions) {
    if (cmd !== 'ENV') continue;
    const w = words(args);
    if (w.length && !w[0].includes('=')) env[w[0]] = w.slice(1).join(' ');
    else
      for (const pair of w) {
        const i = pair.indexOf('=');
        env[pair.slice(0, i)] = pair.slice(i + 1);
      }
  }
  return env;
}

function stageWorkdir(stage: Stage): string {
  let wd = '/';
  for (const { cmd, args } of stage.instructions)
    if (cmd === 'WORKDIR') wd = posix.resolve(wd, args);
  return wd;
}

function flags(args: string): { flags: Record<string, string>; rest: string[] } {
  const out: Record<string, string> = {};
  const rest: string[] = [];
  for (const w of words(args)) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(w);
    if (m) out[m[1]] = m[2] ?? 'true';
    else rest.push(w);
  }
  return { flags: out, rest };
}

/** Where `nest build` puts the application's main.js, derived from nest-cli.json and its tsconfig. */
function nestEntryFile(): string {
  const nest = JSON.parse(read('nest-cli.json')) as NestCli;
  const project = Object.values(nest.projects ?? {}).find(
    (p) => p.type === 'application' && p.root === nest.root,
  );
  const sourceRoot = project?.sourceRoot ?? nest.sourceRoot;
  expect(sourceRoot).toBeDefined();
  const entryFile: string = project?.entryFile ?? nest.entryFile ?? 'main';
  const tsConfigPath = join(
    root,
    project?.compilerOptions?.tsConfigPath ?? nest.compilerOptions?.tsConfigPath ?? 'tsconfig.json',
  );
  const { config, error } = ts.readConfigFile(tsConfigPath, (f) => ts.sys.readFile(f));
  expect(error).toBeUndefined();
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, dirname(tsConfigPath));
  const { outDir, rootDir } = parsed.options;
  expect(outDir).toBeDefined();
  // Without an explicit rootDir tsc derives one from the inputs; the layout would then be guesswork.
  expect(rootDir).toBeDefined();
  const emitted = join(outDir!, relative(rootDir!, join(root, sourceRoot!, `${entryFile}.js`)));
  return relative(root, emitted).split(sep).join('/');
}

// ---------------------------------------------------------------------------------------------

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml')) as ComposeFile;
  const services = compose.services ?? {};
  const postgres = services.postgres ?? {};
  const platform = services.platform ?? {};
  const token = 'x'.repeat(40);

  it('has postgres, platform, an opt-in redis and an opt-in replicas profile', () => {
    expect(Object.keys(services).sort()).toEqual([
      'lb',
      'platform',
      'postgres',
      'redis',
      'replica-1',
      'replica-2',
    ]);
  });

  describe('postgres', () => {
    it('runs Postgres 17', () => {
      expect(postgres.image).toBe('postgres:17');
    });

    it('sets user, password and database', () => {
      const env = rawEnv(postgres);
      expect(env.POSTGRES_USER).toBe('mcp');
      expect(env.POSTGRES_DB).toBe('mcp');
      expect(interpolate(env.POSTGRES_PASSWORD, {})).toBe('mcp');
      expect(interpolate(env.POSTGRES_PASSWORD, { POSTGRES_PASSWORD: 's3cret' })).toBe('s3cret');
    });

    it('has a pg_isready healthcheck for its own user and database', () => {
      const env = rawEnv(postgres);
      const test = healthcheckText(postgres);
      expect(test).toMatch(/\bpg_isready\b/);
      expect(test).toMatch(new RegExp(`-U\\s+${env.POSTGRES_USER}\\b`));
      expect(test).toMatch(new RegExp(`-d\\s+${env.POSTGRES_DB}\\b`));
      for (const key of ['interval', 'timeout', 'retries']) {
        expect(postgres.healthcheck).toHaveProperty(key);
      }
    });

    it('keeps its data directory on the one named volume', () => {
      expect(Object.keys(compose.volumes ?? {})).toEqual(['pgdata']);
      const dataDir = rawEnv(postgres).PGDATA || '/var/lib/postgresql/data';
      expect(mounts(postgres)).toContainEqual({ source: 'pgdata', target: dataDir });
    });
  });

  describe('platform', () => {
    it('is built from this repository', () => {
      const build = platform.build;
      const context = typeof build === 'string' ? build : build?.context;
      expect(posix.normalize(String(context))).toBe('.');
      // A string build names only the context: the Dockerfile is then the default one.
      const dockerfile =
        typeof build === 'object' ? (build.dockerfile ?? 'Dockerfile') : 'Dockerfile';
      expect(dockerfile).toBe('Dockerfile');
      expect(existsSync(join(root, 'Dockerfile'))).toBe(true);
    });

    it('waits for a healthy postgres and does not pull in profile-only services', () => {
      const deps = dependsOn(platform);
      expect(deps.postgres).toBe('service_healthy');
      for (const name of Object.keys(deps)) {
        expect(services[name]).toBeDefined();
        expect(services[name].profiles ?? []).toEqual([]);
      }
    });

    it('listens on all interfaces', () => {
      expect(resolvedEnv(platform, { ADMIN_TOKEN: token }).HOST).toBe('0.0.0.0');
    });

    it('publishes the port it listens on', () => {
      const port = resolvedEnv(platform, { ADMIN_TOKEN: token }).PORT || '3000';
      expect(port).toBe('3000');
      expect(ports(platform)).toContainEqual({ host: '3000', container: port });
    });

    it('takes PUBLIC_URL from the environment, defaulting to the published address', () => {
      expect(rawEnv(platform).PUBLIC_URL).toMatch(/^\$\{PUBLIC_URL[:}?-]/);
      const custom = resolvedEnv(platform, {
        ADMIN_TOKEN: token,
        PUBLIC_URL: 'https://mcp.example.com',
      });
      expect(custom.PUBLIC_URL).toBe('https://mcp.example.com');
      const fallback = new URL(resolvedEnv(platform, { ADMIN_TOKEN: token }).PUBLIC_URL);
      const published = ports(platform).map((p) => p.host);
      expect(published).toContain(fallback.port || (fallback.protocol === 'https:' ? '443' : '80'));
    });

    it('requires ADMIN_TOKEN from the environment', () => {
      const raw = rawEnv(platform).ADMIN_TOKEN;
      expect(raw).toMatch(/^\$\{ADMIN_TOKEN(:?\?[^}]*)?\}$/);
      expect(() => resolvedEnv(platform, {})).toThrow(/ADMIN_TOKEN/);
      expect(resolvedEnv(platform, { ADMIN_TOKEN: token }).ADMIN_TOKEN).toBe(token);
    });

    it.each([{}, { POSTGRES_PASSWORD: 's3cret' }])(
      'points DATABASE_URL at the postgres service with its credentials (%p)',
      (shell: Env) => {
        const pg = resolvedEnv(postgres, shell);
        const url = new URL(resolvedEnv(platform, { ...shell, ADMIN_TOKEN: token }).DATABASE_URL);
        expect(['postgres:', 'postgresql:']).toContain(url.protocol);
        expect(url.hostname).toBe('postgres');
        expect(services[url.hostname]).toBe(postgres);
        expect(['', '5432']).toContain(url.port);
        expect(decodeURIComponent(url.username)).toBe(pg.POSTGRES_USER);
        expect(decodeURIComponent(url.password)).toBe(pg.POSTGRES_PASSWORD);
        expect(url.pathname.slice(1)).toBe(pg.POSTGRES_DB || pg.POSTGRES_USER);
      },
    );

    it('has a healthcheck on its own health endpoint', () => {
      const port = resolvedEnv(platform, { ADMIN_TOKEN: token }).PORT || '3000';
      const test = healthcheckText(platform);
      expect(test).toMatch(
        new RegExp(`http://(127\\.0\\.0\\.1|localhost):${port}/(readyz|healthz)`),
      );
      expect(platform.healthcheck?.disable).not.toBe(true);
    });

    it('restarts unless stopped', () => {
      expect(platform.restart).toBe('unless-stopped');
    });
  });

  describe('redis', () => {
    it('only starts with --profile redis or --profile replicas', () => {
      expect(services.redis.profiles?.sort()).toEqual(['redis', 'replicas']);
      expect(dependsOn(platform)).not.toHaveProperty('redis');
    });

    it('has a redis-cli ping healthcheck', () => {
      expect(services.redis.image).toMatch(/^redis:7/);
      expect(healthcheckText(services.redis)).toMatch(/redis-cli\s+ping/);
    });
  });
});

describe('docker-compose.yml replicas profile', () => {
  const services = (parse(read('docker-compose.yml')) as ComposeFile).services ?? {};
  const replicas = ['replica-1', 'replica-2'];
  const token = 'y'.repeat(40);

  it.each(replicas)('%s is a stateless platform on the shared postgres and redis', (name) => {
    const r = services[name] ?? {};
    expect(r.profiles).toEqual(['replicas']);
    const env = rawEnv(r);
    expect(env.MCP_STATELESS).toBe('true');
    expect(new URL(env.REDIS_URL).hostname).toBe('redis');
    const db = new URL(interpolate(env.DATABASE_URL, { ADMIN_TOKEN: token }));
    expect(db.hostname).toBe('postgres');
    expect(db.pathname).toBe(`/${rawEnv(services.postgres ?? {}).POSTGRES_DB}`);
    expect(dependsOn(r)).toEqual({ postgres: 'service_healthy', redis: 'service_healthy' });
    expect(env.HOST).toBe('0.0.0.0');
  });

  it('puts nginx in front of both replicas, round robin, without buffering streams', () => {
    const lb = services.lb ?? {};
    expect(lb.profiles).toEqual(['replicas']);
    expect(lb.image).toMatch(/^nginx:/);
    const mount = mounts(lb).find((m) => m.target === '/etc/nginx/nginx.conf');
    expect(mount).toBeDefined();
    const conf = read(posix.normalize(mount!.source.replace(/^\.\//, '')));
    for (const name of replicas) expect(conf).toMatch(new RegExp(`server\\s+${name}:3000;`));
    expect(conf).toMatch(/proxy_buffering\s+off;/);
    for (const name of replicas) expect(dependsOn(lb)[name]).toBe('service_healthy');
  });
});

describe('Dockerfile', () => {
  const stages = parseDockerfile(read('Dockerfile'));
  const final = stages[stages.length - 1];
  const all = (cmd: string) => final.instructions.filter((i) => i.cmd === cmd);
  const expectedEntry = 'dist/apps/platform/apps/platform/src/main.js';

  it('is multi-stage on node:22-bookworm-slim', () => {
    expect(stages.length).toBeGreaterThan(1);
    for (const stage of stages) expect(stage.image).toBe('node:22-bookworm-slim');
  });

  it('builds the app in an earlier stage and copies only dist/ from it', () => {
    const copies = all('COPY')
      .map((c) => flags(c.args))
      .filter((c) => c.flags.from);
    expect(copies).toHaveLength(1);
    const [{ flags: f, rest }] = copies;
    const source = stages.find((s, i) => s.name === f.from || String(i) === f.from);
    expect(source).toBeDefined();
    expect(source).not.toBe(final);
    const buildRuns = source!.instructions.filter((i) => i.cmd === 'RUN').map((i) => i.args);
    expect(buildRuns.some((r) => /\bnpm ci\b/.test(r))).toBe(true);
    expect(buildRuns.some((r) => /\bnpm run build\b|\bnest build\b/.test(r))).toBe(true);
    const [from, to] = rest;
    expect(posix.resolve(stageWorkdir(source!), from)).toBe(
      posix.join(stageWorkdir(source!), 'dist'),
    );
    expect(posix.resolve(stageWorkdir(final), to)).toBe(posix.join(stageWorkdir(final), 'dist'));
  });

  it('builds the console into dist/ too: the build stage has its sources and runs `npm run build`', () => {
    const build = stages[0];
    const copied = build.instructions.filter((i) => i.cmd === 'COPY').map((i) => i.args);
    expect(copied.some((c) => /^apps\s/.test(c))).toBe(true);
    expect(
      build.instructions.some((i) => i.cmd === 'RUN' && /\bnpm run build\b/.test(i.args)),
    ).toBe(true);
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> })
      .scripts;
    expect(scripts.build).toMatch(/\bbuild:console\b/);
    expect(scripts['build:console']).toMatch(/\bvite build\b.*apps\/console/);
  });

  it('installs only production dependencies in the final stage', () => {
    // Each shell command on its own, so `npm ci --omit=dev && npm install` is caught too.
    const commands = all('RUN').flatMap((r) => r.args.split(/&&|\|\||;|\|/).map((c) => c.trim()));
    const installs = commands.filter((c) => /\bnpm\s+(ci|install|i|add)\b/.test(c));
    expect(installs.some((c) => /\bnpm\s+ci\b/.test(c))).toBe(true);
    for (const cmd of installs) expect(cmd).toMatch(/--omit[= ]dev\b|--production\b/);
  });

  it('runs as a non-root user', () => {
    const users = all('USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1].args.split(':')[0];
    expect(['root', '0', '']).not.toContain(user);
    const lastUser = final.instructions.lastIndexOf(users[users.length - 1]);
    const cmd = final.instructions.findIndex((i) => i.cmd === 'CMD');
    expect(lastUser).toBeLessThan(cmd);
  });

  it('configures the runtime environment', () => {
    const env = stageEnv(final);
    expect(env.HOST).toBe('0.0.0.0');
    expect(env.NODE_ENV).toBe('production');
    expect(env.DATA_DIR).toBe('/data');
    const user = all('USER').pop()!.args.split(':')[0];
    const runs = all('RUN').map((r) => r.args);
    expect(
      runs.some((r) => new RegExp(`chown\\s+(-R\\s+)?${user}(:\\S+)?\\s+/data\\b`).test(r)),
    ).toBe(true);
    expect(all('EXPOSE').flatMap((e) => e.args.split(/\s+/))).toContain(env.PORT || '3000');
  });

  it('has a healthcheck calling /healthz with node', () => {
    const [hc] = all('HEALTHCHECK');
    expect(hc).toBeDefined();
    const cmd = hc.args.replace(/^(--\S+\s+)*CMD\s+/, '');
    const argv: string[] = cmd.startsWith('[') ? JSON.parse(cmd) : ['/bin/sh', '-c', cmd];
    expect(argv[0]).toBe('node');
    expect(argv.join(' ')).toMatch(/http:\/\/127\.0\.0\.1:.*\/healthz/);
    expect(argv.join(' ')).toMatch(/3000/);
  });

  it('starts the file `nest build` emits, as scripts/start.js does', () => {
    expect(nestEntryFile()).toBe(expectedEntry);
    expect(read('scripts/start.js')).toContain(`'${expectedEntry}'`);
    const cmds = all('CMD');
    expect(cmds).toHaveLength(1);
    const argv = JSON.parse(cmds[0].args) as string[];
    expect(argv[0]).toBe('node');
    const script = argv[argv.length - 1];
    expect(posix.resolve(stageWorkdir(final), script)).toBe(
      posix.join(stageWorkdir(final), expectedEntry),
    );
    expect(all('ENTRYPOINT')).toHaveLength(0);
  });
});

describe('.dockerignore', () => {
  it('keeps host artefacts out of the build context', () => {
    const lines = read('.dockerignore')
      .split(/\r?\n/)
      .map((l) => l.trim().replace(/^\/|\/$/g, ''));
    for (const entry of ['node_modules', 'dist', '.data', 'coverage', '.git', 'bench/results']) {
      expect(lines).toContain(entry);
    }
  });
});
