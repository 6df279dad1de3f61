import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readProgramTable, scanFiles, type SpawnSite } from './programs';

const root = fileURLToPath(new URL('..', import.meta.url));
const TABLE = join(root, 'scripts/programs.txt');
const FIXTURE = 'test/fixtures/spawns-unlisted.ts';

/** Source files git knows (tracked, or new and not ignored), as paths from the root. */
function sourceFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', '*.ts', '*.js', '*.mjs', '*.cjs'], { cwd: root, encoding: 'utf8' });
  return out.split('\n').filter((f) => f && !f.startsWith('test/fixtures/') && existsSync(join(root, f)));
}

const scan = (files: string[]) => scanFiles(files.map((f) => join(root, f)));
const where = (s: { file: string; line: number }) => `${s.file.replace(root, '')}:${s.line}`;

function unlisted(sites: SpawnSite[], listed: Set<string>): string[] {
  return sites.filter((s) => !listed.has(s.program)).map((s) => `${s.program} (${where(s)})`);
}

describe('scripts/programs.txt', () => {
  const rows = readProgramTable(TABLE);
  const listed = new Set(rows.map((r) => r.program));

  it('holds every program the code runs', () => {
    const { sites, unresolved } = scan(sourceFiles());
    expect(unresolved.map((u) => `${where(u)}: ${u.reason}`), 'spawn calls whose program cannot be read').toEqual([]);
    expect(unlisted(sites, listed), 'programs the code runs that scripts/programs.txt does not list').toEqual([]);
    // The scan sees what we know is there; an empty scan would pass the check above by itself.
    const seen = new Set(sites.map((s) => s.program));
    for (const program of ['ansible-playbook', 'caddy', 'git', 'chromium', 'ssh', 'openssl', 'bash', 'node', 'npm']) expect(seen, program).toContain(program);
  });

  it('fails, naming the program, for one it does not hold (fixture)', () => {
    const { sites, unresolved } = scan([FIXTURE]);
    expect(unlisted(sites, listed).map((s) => s.split(' ')[0]).sort()).toEqual(['keelson-unlisted-by-default', 'keelson-unlisted-tool', 'keelson-unlisted-via-parameter']);
    expect(unresolved).toHaveLength(1);
    expect(unresolved[0]!.reason).toMatch(/cannot tell which program spawn\(\) runs/);
  });

  it('says how each program is installed, by a script that exists', () => {
    for (const row of rows) {
      expect(['required', 'optional', '-'], `${row.program}: up`).toContain(row.up);
      expect(['required', 'optional', '-'], `${row.program}: test`).toContain(row.test);
      expect(row.install, `${row.program}: install`).toMatch(/^(apt:[a-z0-9.+-]+|script:scripts\/[\w./-]+\.sh|prerequisite)$/);
      if (row.install.startsWith('script:')) {
        const script = join(root, row.install.slice('script:'.length));
        expect(existsSync(script), `${row.program}: ${script}`).toBe(true);
        expect(readFileSync(script, 'utf8'), `${row.program}: ${script} answers "ensure"`).toMatch(/^\s*ensure\)/m);
      }
      expect(row.usedFor, `${row.program}: what it is for`).not.toBe('');
    }
  });

  it('lists nothing that nothing uses', () => {
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f && f !== 'scripts/programs.txt' && !f.startsWith('test/fixtures/') && !f.endsWith('package-lock.json') && existsSync(join(root, f)));
    const text = files.map((f) => readFileSync(join(root, f), 'utf8')).join('\n');
    const unused = rows.filter((r) => !new RegExp(`(^|[^\\w.-])${r.program.replace(/[.+-]/g, '\\$&')}([^\\w-]|$)`, 'm').test(text)).map((r) => r.program);
    expect(unused).toEqual([]);
  });
});
