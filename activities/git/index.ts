import { ApplicationFailure } from '@temporalio/activity';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';

export interface SourceRef {
  appId: string;
  repoUrl: string;
  branch: string;
  /** An exact commit; when absent, the branch's head at the remote. */
  commit?: string | null;
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
 */
export function createSourceCheckout({ workDir }: { workDir: string }) {
  async function repository(ref: SourceRef): Promise<{ git: SimpleGit; dir: string }> {
    const dir = join(workDir, 'apps', ref.appId, 'source');
    if (!existsSync(join(dir, '.git'))) {
      await mkdir(dir, { recursive: true });
      await simpleGit(dir).init().addRemote('origin', ref.repoUrl);
    }
    const git = simpleGit(dir);
    // The app's repository may have moved since the last deploy.
    await git.remote(['set-url', 'origin', ref.repoUrl]);
    return { git, dir };
  }

  async function fetch(git: SimpleGit, ref: SourceRef): Promise<void> {
    try {
      await git.fetch(['--prune', '--no-tags', 'origin', `+refs/heads/${ref.branch}:refs/remotes/origin/${ref.branch}`]);
    } catch (err) {
      const message = (err as Error).message;
      if (/couldn't find remote ref/i.test(message)) throw ApplicationFailure.nonRetryable(`branch ${ref.branch} does not exist in ${ref.repoUrl}`, 'BranchNotFound');
      if (/does not appear to be a git repository|repository .* not found|not found/i.test(message)) {
        throw ApplicationFailure.nonRetryable(`${ref.repoUrl} is not a git repository Keelson can read`, 'RepositoryNotFound');
      }
      throw err;
    }
  }

  async function resolve(git: SimpleGit, ref: SourceRef): Promise<string> {
    const wanted = ref.commit ?? `refs/remotes/origin/${ref.branch}`;
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
      throw ApplicationFailure.nonRetryable(`commit ${wanted} is not in ${ref.repoUrl}`, 'CommitNotFound');
    }
  }

  return {
    /** Fetches and checks out `ref` (its commit, or the branch head) in the app's clone. */
    async checkout(ref: SourceRef): Promise<CheckedOut> {
      const { git, dir } = await repository(ref);
      await fetch(git, ref);
      const commit = await resolve(git, ref);
      await git.raw(['checkout', '--force', '--detach', commit]);
      await git.raw(['clean', '-ffdx']);
      const [subject = '', author = ''] = (await git.raw(['log', '-1', '--format=%s%n%an <%ae>', commit])).trim().split('\n');
      return { commit, subject, author, dir };
    },
  };
}

export type SourceCheckout = ReturnType<typeof createSourceCheckout>;
