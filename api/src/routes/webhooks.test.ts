import { createHmac, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { setupDeployWorld, type AppRecord } from '../../../test/deploy-harness';

/** A push event as GitHub sends it (the fields Keelson reads, among the usual others). */
function githubPush(ref: string, after: string, before = '0'.repeat(40)) {
  return {
    ref,
    before,
    after,
    created: false,
    deleted: false,
    forced: false,
    base_ref: null,
    compare: `https://github.com/acme/shop/compare/${before.slice(0, 12)}...${after.slice(0, 12)}`,
    commits: [{ id: after, message: 'release', timestamp: new Date().toISOString(), author: { name: 'Sample Dev', email: 'dev@example.test' } }],
    head_commit: { id: after, message: 'release', timestamp: new Date().toISOString() },
    repository: { id: 1, name: 'shop', full_name: 'acme/shop', private: true, default_branch: 'main' },
    pusher: { name: 'dev', email: 'dev@example.test' },
    sender: { login: 'dev', id: 1, type: 'User' },
  };
}

/** A push hook as GitLab sends it. */
function gitlabPush(ref: string, after: string) {
  return {
    object_kind: 'push',
    event_name: 'push',
    before: '0'.repeat(40),
    after,
    ref,
    ref_protected: true,
    checkout_sha: after,
    user_id: 4,
    user_name: 'Sample Dev',
    user_username: 'dev',
    project_id: 15,
    project: { id: 15, name: 'shop', path_with_namespace: 'acme/shop', default_branch: 'main' },
    commits: [{ id: after, message: 'release', title: 'release', timestamp: new Date().toISOString(), author: { name: 'Sample Dev', email: 'dev@example.test' } }],
    total_commits_count: 1,
    repository: { name: 'shop', homepage: 'https://gitlab.example.test/acme/shop' },
  };
}

describe('push webhooks', () => {
  const w = setupDeployWorld();

  const sign = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const github = (app: AppRecord, payload: unknown, opts: { delivery?: string; secret?: string; event?: string; raw?: string } = {}) => {
    const body = opts.raw ?? JSON.stringify(payload);
    return w.p.request(`/api/webhooks/github/${app.id}`, {
      headers: {
        'content-type': 'application/json',
        'x-github-event': opts.event ?? 'push',
        'x-github-delivery': opts.delivery ?? randomUUID(),
        'x-hub-signature-256': sign(opts.secret ?? app.webhookSecret, body),
        'user-agent': 'GitHub-Hookshot/abc123',
      },
      body,
    });
  };
  const gitlab = (app: AppRecord, payload: unknown, opts: { uuid?: string; token?: string } = {}) =>
    w.p.request(`/api/webhooks/gitlab/${app.id}`, {
      headers: {
        'content-type': 'application/json',
        'x-gitlab-event': 'Push Hook',
        'x-gitlab-event-uuid': opts.uuid ?? randomUUID(),
        'x-gitlab-token': opts.token ?? app.webhookSecret,
      },
      body: JSON.stringify(payload),
    });
  const deliveries = async (app: AppRecord) =>
    (await w.api<{ items: Array<{ outcome: string; reason: string; externalId: string | null; releaseId: string | null }> }>(`/api/apps/${app.id}/deliveries`)).items;

  it('a signed GitHub push deploys; its redelivery and a forged one start nothing', async () => {
    const app = await w.createApp();
    const commit = w.sample.release('from github');
    const delivery = randomUUID();

    const forged = await github(app, githubPush('refs/heads/main', commit), { delivery, secret: 'not-the-secret' });
    expect(forged.status).toBe(401);

    const res = await github(app, githubPush('refs/heads/main', commit), { delivery });
    expect(res.status).toBe(202);
    const queued = (await res.json()) as { outcome: string; releaseId: string; workflowId: string };
    expect(queued.outcome).toBe('queued');

    const again = await github(app, githubPush('refs/heads/main', commit), { delivery });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ outcome: 'duplicate' });

    const release = await w.releaseDone(app.id, queued.releaseId);
    expect(release, release.error ?? '').toMatchObject({ status: 'live', commitSha: commit });
    expect(await w.viaProxy(app.hostname)).toEqual({ status: 200, body: 'from github' });
    expect((await w.releases(app.id)).length).toBe(1);
    expect((await deliveries(app)).map((d) => d.outcome)).toEqual(['duplicate', 'queued', 'rejected']);
    const run = await w.api<{ actor: string; resources: string[] }>(`/api/runs/${encodeURIComponent(queued.workflowId)}`);
    expect(run).toMatchObject({ actor: 'webhook:github', resources: [`app:${app.id}`, `release:${queued.releaseId}`] });
  });

  it('a GitLab push with the right token deploys; a wrong token is refused', async () => {
    const app = await w.createApp();
    const commit = w.sample.release('from gitlab');
    expect((await gitlab(app, gitlabPush('refs/heads/main', commit), { token: 'wrong' })).status).toBe(401);
    const res = await gitlab(app, gitlabPush('refs/heads/main', commit));
    expect(res.status).toBe(202);
    const { releaseId } = (await res.json()) as { releaseId: string };
    expect(await w.releaseDone(app.id, releaseId)).toMatchObject({ status: 'live', commitSha: commit });
    expect(await w.viaProxy(app.hostname)).toEqual({ status: 200, body: 'from gitlab' });
  });

  it('ignores other branches, pings, deletions and unknown apps with a reason; refuses malformed and oversized bodies', async () => {
    const app = await w.createApp();
    const commit = w.sample.release('not deployed', { branch: 'feature' });
    const other = await github(app, githubPush('refs/heads/feature', commit));
    expect(other.status).toBe(202);
    expect(await other.json()).toMatchObject({ outcome: 'ignored', reason: 'refs/heads/feature is not the deployed branch (refs/heads/main)' });
    const ping = await github(app, { zen: 'Keep it logically awesome.', hook_id: 1 }, { event: 'ping' });
    expect(ping.status).toBe(200);
    const deleted = await github(app, { ...githubPush('refs/heads/main', '0'.repeat(40)), deleted: true });
    expect(await deleted.json()).toMatchObject({ outcome: 'ignored', reason: 'the branch was deleted' });

    const unknown = await github({ ...app, id: randomUUID() }, githubPush('refs/heads/main', commit));
    expect(unknown.status).toBe(202);
    expect(await unknown.json()).toMatchObject({ outcome: 'ignored', reason: 'no such app' });

    const notJson = await github(app, null, { raw: '{"ref": "refs/heads/main", ' });
    expect(notJson.status).toBe(400);
    const wrongShape = await github(app, { ref: 'refs/heads/main', after: 'not-a-sha' });
    expect(wrongShape.status).toBe(400);
    expect(await wrongShape.json()).toMatchObject({ outcome: 'malformed', reason: expect.stringContaining('after') });
    const huge = await github(app, { ...githubPush('refs/heads/main', commit), padding: 'x'.repeat(1024 * 1024 + 1) });
    expect(huge.status).toBe(413);

    expect(await w.releases(app.id)).toEqual([]);
    expect((await deliveries(app)).map((d) => d.outcome).sort()).toEqual(['ignored', 'ignored', 'ignored', 'malformed', 'malformed']);
  });

  it('rotating the secret makes the old one stop verifying', async () => {
    const app = await w.createApp();
    const { webhookSecret } = await w.api<{ webhookSecret: string }>(`/api/apps/${app.id}/webhook-secret`, { method: 'POST' });
    expect(webhookSecret).not.toBe(app.webhookSecret);
    const commit = w.sample.release('rotated');
    expect((await github(app, githubPush('refs/heads/feature', commit))).status).toBe(401);
    expect((await github({ ...app, webhookSecret }, githubPush('refs/heads/feature', commit))).status).toBe(202);
  });
});
