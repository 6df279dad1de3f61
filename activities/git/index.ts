import { scrubCredentials, splitUrlCredentials, type UrlCredentials } from '@keelson/common/credentials';
import { ApplicationFailure } from '@temporalio/activity';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';

export interface SourceRef {
  appId: string;
  /** Without credentials: those travel sealed (`repoCredentialsSealed`) and reach git only here. */
  repoUrl: string;
  branch: string;
  /** An exact commit; when absent, the branch's head at the remote. */
  commit?: string | null;
  /** The repository's credentials as stored (encrypted); opened only on the node, by the caller. */
  repoCredentialsSealed?: string | null;
}

export interface CheckedOut {
  commit: string;
  subject: string;
  author: string;
  /** The working tree at that commit, on this node. */
  dir: string;
}

const SHA = /^[0-9a-f]{40}$/;

/**
 * Keeps one clone per app under `workDir` and checks out exact commits in it. Safe to call again:
 * a clone that exists is fetched, a checkout that is already at the commit is cleaned and kept.
 * Git's refusals that no retry can fix (no such repository, branch or commit) are non-retryable.
 *
 * Credentials never go into the URL, the remote's config, git's arguments or any message: git
 * gets them as an `Authorization` header scoped to the repository's origin through its
 * environment (GIT_CONFIG_*), and every error is scrubbed of them (and of any URL user info)
 * before it leaves this module.
 */
export function createSourceCheckout({ workDir }: { workDir: string }) {
  function gitIn(dir: string, ref: SourceRef, credentials: UrlCredentials | null): SimpleGit {
    // Git's own environment: what it needs to run and reach hosts, nothing that could run a
    // program for it (editors, pagers, askpass), and never a prompt.
    const env: Record<string, string> = { GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
    for (const name of ['PATH', 'HOME', 'TMPDIR', 'SSH_AUTH_SOCK', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy']) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    const origin = /^https?:\/\//i.test(ref.repoUrl) ? new URL(ref.repoUrl).origin : null;
    if (credentials && origin) {
      const basic = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
      Object.assign(env, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: `http.${origin}/.extraHeader`, GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}` });
    }
    // Passing configuration through the environment is what keeps it out of argv (and `ps`).
    return simpleGit(dir, { unsafe: { allowUnsafeConfigEnvCount: true } }).env(env);
  }

  /** Runs a git step; whatever git says comes back without credentials. */
  async function scrubbed<T>(credentials: UrlCredentials | null, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      throw ApplicationFailure.retryable(scrubCredentials((err as Error).message, credentials), 'GitFailed');
    }
  }

  async function repository(ref: SourceRef, credentials: UrlCredentials | null): Promise<{ git: SimpleGit; dir: string }> {
    const dir = join(workDir, 'apps', ref.appId, 'source');
    // A URL stored before credentials were sealed may still carry them: never let it reach git.
    const url = splitUrlCredentials(ref.repoUrl).url;
    if (!existsSync(join(dir, '.git'))) {
      await mkdir(dir, { recursive: true });
      await scrubbed(credentials, () => gitIn(dir, ref, credentials).init().addRemote('origin', url));
    }
    const git = gitIn(dir, { ...ref, repoUrl: url }, credentials);
    // The app's repository may have moved since the last deploy.
    await scrubbed(credentials, () => git.remote(['set-url', 'origin', url]));
    return { git, dir };
  }

  async function fetch(git: SimpleGit, ref: SourceRef, credentials: UrlCredentials | null): Promise<void> {
    const repo = splitUrlCredentials(ref.repoUrl).url;
    try {
      await git.fetch(['--prune', '--no-tags', 'origin', `+refs/heads/${ref.branch}:refs/remotes/origin/${ref.branch}`]);
    } catch (err) {
      const message = scrubCredentials((err as Error).message, credentials);
      if (/couldn't find remote ref/i.test(message)) throw ApplicationFailure.nonRetryable(`branch ${ref.branch} does not exist in ${repo}`, 'BranchNotFound');
      if (/does not appear to be a git repository|repository .* not found|not found/i.test(message)) {
        throw ApplicationFailure.nonRetryable(`${repo} is not a git repository Keelson can read`, 'RepositoryNotFound');
      }
      if (/authentication failed|could not read username|403|401|terminal prompts disabled/i.test(message)) {
        throw ApplicationFailure.nonRetryable(`${repo} refused the credentials Keelson has for it (${credentials ? 'check the token' : 'none were given'})`, 'RepositoryAccessDenied');
      }
      throw ApplicationFailure.retryable(message, 'GitFailed');
    }
  }

  async function resolve(git: SimpleGit, ref: SourceRef): Promise<string> {
    const wanted = ref.commit ?? `refs/remotes/origin/${ref.branch}`;
    const repo = splitUrlCredentials(ref.repoUrl).url;
    try {
      return (await git.revparse(['--verify', '--quiet', `${wanted}^{commit}`])).trim();
    } catch {
      if (ref.commit && SHA.test(ref.commit)) {
        // A commit that is not on the branch (yet): ask for it by id.
        try {
          await git.fetch(['--no-tags', 'origin', ref.commit]);
          return (await git.revparse(['--verify', '--quiet', `${ref.commit}^{commit}`])).trim();
        } catch {
          // fall through to the typed failure
        }
      }
      throw ApplicationFailure.nonRetryable(`commit ${wanted} is not in ${repo}`, 'CommitNotFound');
    }
  }

  return {
    /**
     * Fetches and checks out `ref` (its commit, or the branch head) in the app's clone.
     * `credentials` are the repository's, already opened by the caller; they are used for this
     * call only and never stored.
     */
    async checkout(ref: SourceRef, credentials: UrlCredentials | null = null): Promise<CheckedOut> {
      const creds = credentials ?? splitUrlCredentials(ref.repoUrl).credentials;
      const { git, dir } = await repository(ref, creds);
      await fetch(git, ref, creds);
      const commit = await resolve(git, ref);
      return scrubbed(creds, async () => {
        await git.raw(['checkout', '--force', '--detach', commit]);
        await git.raw(['clean', '-ffdx']);
        const [subject = '', author = ''] = (await git.raw(['log', '-1', '--format=%s%n%an <%ae>', commit])).trim().split('\n');
        return { commit, subject, author, dir };
      });
    },
  };
}

export type SourceCheckout = ReturnType<typeof createSourceCheckout>;
