import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A sample app in a local bare repository, the stand-in for a GitHub or GitLab remote. Its image
 * builds from the local busybox base (nothing is pulled): busybox httpd serving `www/`, with a
 * `/health` file for the health check. Commits are made in a working clone and pushed.
 */
export interface SampleApp {
  /** The bare repository's path: the app's repoUrl. */
  repoUrl: string;
  /** Commits a release answering `body` on `/` and 200 on `/health`; returns the commit id. */
  release(body: string, opts?: { branch?: string }): string;
  /** Commits a release whose container exits at once. */
  crashing(message?: string): string;
  /** Commits a release that serves, but answers 404 on `/health`. */
  unhealthy(body: string): string;
  /** Commits a release that serves and passes its health check, then exits after `seconds`. */
  dying(body: string, seconds: number): string;
  /** Commits a release whose image build takes `seconds` (a RUN sleep), for crash tests. */
  slowBuild(body: string, seconds: number): string;
  /** Commits a release whose image build prints `build line 1`…`build line <lines>`, one every `intervalSeconds`. */
  chattyBuild(body: string, lines: number, intervalSeconds: number): string;
  remove(): void;
}

export const SAMPLE_APP_PORT = 8080;

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

export function createSampleApp(branch = 'main'): SampleApp {
  const root = mkdtempSync(join(tmpdir(), 'keelson-sample-app-'));
  const bare = join(root, 'origin.git');
  const work = join(root, 'work');
  execFileSync('git', ['init', '--quiet', '--bare', `--initial-branch=${branch}`, bare]);
  execFileSync('git', ['init', '--quiet', `--initial-branch=${branch}`, work]);
  git(work, 'config', 'user.email', 'dev@example.test');
  git(work, 'config', 'user.name', 'Sample Dev');
  git(work, 'remote', 'add', 'origin', bare);

  function commit(files: Record<string, string | null>, message: string, onBranch = branch): string {
    if (git(work, 'symbolic-ref', '--short', 'HEAD') !== onBranch) {
      const exists = git(work, 'branch', '--list', onBranch) !== '';
      git(work, 'checkout', '--quiet', ...(exists ? [onBranch] : ['-b', onBranch]));
    }
    for (const [path, content] of Object.entries(files)) {
      const full = join(work, path);
      if (content === null) rmSync(full, { force: true });
      else {
        mkdirSync(dirname(full), { recursive: true });
        writeFileSync(full, content);
      }
    }
    git(work, 'add', '--all');
    git(work, 'commit', '--quiet', '--allow-empty', '-m', message);
    git(work, 'push', '--quiet', 'origin', `HEAD:refs/heads/${onBranch}`);
    return git(work, 'rev-parse', 'HEAD');
  }

  const dockerfile = (cmd: string, extra = '') =>
    `FROM keelson/busybox:latest\n${extra}COPY www /www\nEXPOSE ${SAMPLE_APP_PORT}\nCMD ${cmd}\n`;
  const serve = `["httpd", "-f", "-p", "${SAMPLE_APP_PORT}", "-h", "/www"]`;

  return {
    repoUrl: bare,
    release: (body, opts = {}) =>
      commit({ Dockerfile: dockerfile(serve), 'www/index.html': body, 'www/health': 'ok\n' }, `release: ${body}`, opts.branch ?? branch),
    crashing: (message = 'crash on start') =>
      commit({ Dockerfile: dockerfile(`["sh", "-c", "echo ${message}; exit 3"]`), 'www/index.html': 'never served', 'www/health': 'ok\n' }, message),
    unhealthy: (body) => commit({ Dockerfile: dockerfile(serve), 'www/index.html': body, 'www/health': null }, `unhealthy: ${body}`),
    dying: (body, seconds) =>
      commit(
        {
          Dockerfile: dockerfile(`["sh", "-c", "httpd -p ${SAMPLE_APP_PORT} -h /www && sleep ${seconds} && echo giving up && exit 4"]`),
          'www/index.html': body,
          'www/health': 'ok\n',
        },
        `dying: ${body}`,
      ),
    slowBuild: (body, seconds) =>
      commit({ Dockerfile: dockerfile(serve, `RUN echo building slowly && sleep ${seconds}\n`), 'www/index.html': body, 'www/health': 'ok\n' }, `slow: ${body}`),
    chattyBuild: (body, lines, intervalSeconds) =>
      commit(
        {
          // A step of its own each time (the nonce), so the engine's build cache never skips it.
          Dockerfile: dockerfile(serve, `RUN : ${randomBytes(6).toString('hex')}; for i in $(seq 1 ${lines}); do echo "build line $i"; sleep ${intervalSeconds}; done\n`),
          'www/index.html': body,
          'www/health': 'ok\n',
        },
        `chatty: ${body}`,
      ),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
