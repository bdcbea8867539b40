/** `runSyncHarbor` pins the tags the current channel names (rollback targets survive Harbor's own retention). */
import { afterEach, expect, it } from 'vitest';
import type { HarborMethod, HarborRequest, HarborResponse } from '../../scan/harbor-transport.js';
import { newWorld, NEW, OLD, rebuild, HOST, PROJECT, type World } from '../../pipeline/__tests__/world.js';
import { runSyncHarbor } from '../harbor-admin.js';
import { RUNBOOK_RETENTION_RULES } from '../harbor-policy.js';

let w: World | undefined;
afterEach(async () => {
  await w?.dispose();
});

/** A Harbor that has the project and no policy, recording what it is sent. */
function fakeHarbor() {
  const sent: { method: HarborMethod; path: string; body: unknown }[] = [];
  return {
    sent,
    baseUrl: 'http://harbor.test',
    async request(method: HarborMethod, path: string, req: HarborRequest): Promise<HarborResponse> {
      sent.push({ method, path, body: req.body });
      if (method === 'GET' && path === '/projects/aibox')
        return { status: 200, body: { project_id: 4, metadata: {} }, requestId: undefined };
      if (method === 'POST' && path === '/retentions')
        return { status: 201, body: undefined, requestId: undefined, location: '/api/v2.0/retentions/9' };
      throw new Error(`unexpected ${method} ${path}`);
    },
  };
}

it('pins the current channel tags in an always rule, and creates the policy', async () => {
  w = await newWorld();
  await rebuild(w, OLD);
  const harbor = fakeHarbor();
  const r = await runSyncHarbor(
    { harbor, store: w.store, host: HOST, project: PROJECT },
    { rules: RUNBOOK_RETENTION_RULES, repositories: ['base', 'app', 'tool'], apply: true },
  );
  expect([...r.pinnedTags].sort()).toEqual(['1-24.04-20260101', '2-24.04-20260101', '24.04-20260101']);
  expect(r).toMatchObject({ action: 'create', status: 'applied', policyId: 9 });
  const body = harbor.sent.find((s) => s.method === 'POST')!.body as {
    rules: { template: string; tag_selectors: { pattern: string; extras: string }[] }[];
  };
  expect(body.rules.at(-1)).toMatchObject({
    template: 'always',
    tag_selectors: [
      { pattern: '{1-24.04-20260101,2-24.04-20260101,24.04-20260101}', extras: '{"untagged":true}' },
    ],
  });
});

it('pins the tags of the last keepChannelSequences history entries too (rollback targets)', async () => {
  w = await newWorld();
  await rebuild(w, OLD);
  await rebuild(w, NEW);
  const harbor = fakeHarbor();
  const deps = { harbor, store: w.store, host: HOST, project: PROJECT };
  const req = { rules: RUNBOOK_RETENTION_RULES, repositories: ['base', 'app', 'tool'], apply: false };
  const none = await runSyncHarbor(deps, req);
  expect(none.pinnedTags).toEqual(['1-24.04-20260108', '2-24.04-20260108', '24.04-20260108']);
  const two = await runSyncHarbor(deps, { ...req, keepChannelSequences: 4 });
  expect(two.pinnedTags).toEqual([
    '1-24.04-20260101',
    '1-24.04-20260108',
    '2-24.04-20260101',
    '2-24.04-20260108',
    '24.04-20260101',
    '24.04-20260108',
  ]);
});
