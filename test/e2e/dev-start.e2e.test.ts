/**
 * Issue 10 §3 (launch) on the bundled `aibox` against real podman + docker-registry: `aibox start -- CMD`
 * runs CMD in the sandbox with the workspace at /workspace and returns its exit code; a second start
 * attaches to the running sandbox; a running older image is named with how to switch; an older image
 * below the floor is refused (SECURITY UPDATE REQUIRED, exit 3); a local image below the floor or with a
 * failing signature starts nothing (exit 3 / 12); podman missing is a clear error; `aibox stop` stops it.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../src/core/labels.js';
import type { FleetReport } from '../../src/fleet/report.js';
import { fleetReportSchema } from '../../src/fleet/schema.js';
import { sandboxName } from '../../src/sandbox/launch.js';
import type { CliResult } from '../helpers/cli.js';
import {
  entry,
  SIGNER,
  startDevWorld,
  type Developer,
  type DevWorld,
  type PublishedImage,
} from '../helpers/dev.js';
import { buildTestImage } from '../helpers/image.js';
import { waitFor } from '../helpers/pipeline.js';
import { maybeUnset } from '../helpers/unset.js';

let w: DevWorld;
let alice: Developer;
let carol: Developer;
let v1: PublishedImage;
let v2: PublishedImage;
let ws: string;
let carolWs: string;
let background: Promise<CliResult> | undefined;
// Tags of this file only (other e2e files use 2026 dates): the local names `aibox update` tags are shared storage.
// `aibox update` names the local image by the registry's name for the tag (src/sandbox/update.ts localRef).
const LOCAL_V1 = (): string => `${w.host}/aibox/base:24.04-20250614`;
const LOCAL_V2 = (): string => `${w.host}/aibox/base:24.04-20250621`;

const SIG_LINE = new RegExp(
  `^Verifying image signature\\.\\.\\. valid \\(signed by ${SIGNER.replace(/\./g, '\\.')}, \\d{4}-\\d{2}-\\d{2}\\)$`,
  'm',
);
const noStack = (r: CliResult) => expect(`${r.stdout}${r.stderr}`).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
const sandboxes = (workspace: string) =>
  w.podman.listContainers({ [LABELS.sandbox]: sandboxName('base', workspace) });

beforeAll(async () => {
  w = await startDevWorld('devstart');
  v1 = await w.publishImage('base', '24.04-20250614', { content: 'one' });
  await w.publishChannel([entry(v1)]);
  ws = await mkdtemp(join(w.dir, 'ws-'));
  carolWs = await mkdtemp(join(w.dir, 'ws-carol-'));
  await writeFile(join(ws, 'hello.txt'), 'hello from the workspace\n');
  alice = await w.developer('alice');
  carol = await w.developer('carol');
  for (const dev of [alice, carol]) {
    const s = await dev.aibox(['setup', '--registry', `${w.host}/aibox`, '--key', w.pubPath]);
    expect(s.code, s.stderr).toBe(0);
    const u = await dev.aibox(['update']);
    expect(u.code, u.stderr).toBe(0);
  }
}, 240_000);

afterAll(async () => {
  const world = maybeUnset(w);
  if (world) {
    for (const d of [ws, carolWs])
      for (const c of await sandboxes(d).catch(() => []))
        await world.podman.rm(c.name, { force: true, time: 0 }).catch(() => undefined);
    await background?.catch(() => undefined);
    await world.podman.rmi([LOCAL_V1(), LOCAL_V2()], { force: true }).catch(() => undefined);
  }
  await world?.dispose();
});

describe('aibox start', () => {
  it('runs CMD with the workspace at /workspace and returns its exit code, after the signature line', async () => {
    const r = await alice.aibox([
      'start',
      '--workspace',
      ws,
      '--',
      'sh',
      '-c',
      'cat /workspace/hello.txt; pwd; exit 7',
    ]);
    expect(r.code).toBe(7);
    expect(r.stdout).toBe('hello from the workspace\n/workspace\n');
    expect(r.stderr).toMatch(SIG_LINE);
    noStack(r);
    expect(await sandboxes(ws)).toEqual([]); // the sandbox of a finished command is gone
  });

  it('attaches to the sandbox already running from the same image', async () => {
    background = alice.aibox(['start', '--workspace', ws, '--', 'sleep', '300']);
    const [c] = await waitFor('the sandbox to run', async () => {
      const l = await sandboxes(ws);
      return l.some((x) => x.running) ? l : undefined;
    });
    expect(c!.labels).toMatchObject({
      [LABELS.variant]: 'base',
      [LABELS.sandboxDigest]: v1.digest,
      [LABELS.sandboxWorkspace]: ws,
      [LABELS.managed]: 'true',
    });
    const r = await alice.aibox([
      'start',
      '--workspace',
      ws,
      '--',
      'sh',
      '-c',
      'cat /etc/aibox-test; exit 4',
    ]);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('base 24.04-20250614 one\n');
    expect(r.stderr).toMatch(SIG_LINE);
    expect(r.stderr).not.toContain('older image');
    expect(await sandboxes(ws)).toHaveLength(1);
    const st = await alice.aibox(['status']);
    expect(st.stdout).toContain(`${sandboxName('base', ws)} (aibox-base:24.04-20250614)`);
  });

  it('says when the running sandbox is from an older image, and how to switch', async () => {
    // seconds apart, so v1 is strictly older than v2 at the floor's (second) precision
    await new Promise((r) => setTimeout(r, 1100));
    v2 = await w.publishImage('base', '24.04-20250621', { content: 'two' });
    await w.publishChannel([entry(v2)]);
    expect((await alice.aibox(['update'])).code).toBe(0);
    const r = await alice.aibox(['start', '--workspace', ws, '--', 'cat', '/etc/aibox-test']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('base 24.04-20250614 one\n'); // still the running (older) sandbox
    expect(r.stderr).toContain(
      'is running an older image (24.04-20250614); the current one is 24.04-20250621.',
    );
    expect(r.stderr).toContain("To switch: 'aibox stop', then 'aibox start'.");
  });

  it('refuses to attach when the running older image is below the floor: SECURITY UPDATE REQUIRED, exit 3', async () => {
    await w.publishChannel([
      entry(v2, {
        mandatoryUpdate: true,
        minImageCreated: v2.created,
        minImageDate: v2.created.slice(0, 10),
        cve: { id: 'CVE-2026-12345', cvss: 9.8 },
      }),
    ]);
    const r = await alice.aibox(['start', '--workspace', ws, '--', 'true']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(
      'SECURITY UPDATE REQUIRED: A critical vulnerability (CVE-2026-12345, CVSS 9.8) has been\n' +
        "patched. Run 'aibox update' to pull the latest image before starting your sandbox.",
    );
    expect(r.stdout).toBe('');
    noStack(r);
  });

  it('aibox stop removes the sandbox; the next start runs the current image', async () => {
    const s = await alice.aibox(['stop', '--workspace', ws]);
    expect(s.code).toBe(0);
    expect(s.stdout).toBe(`Stopped sandbox ${sandboxName('base', ws)}.\n`);
    await background;
    expect(await sandboxes(ws)).toEqual([]);
    const again = await alice.aibox(['stop', '--workspace', ws]);
    expect(again.stdout).toContain('nothing to stop');
    const r = await alice.aibox(['start', '--workspace', ws, '--', 'cat', '/etc/aibox-test']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('base 24.04-20250621 two\n');
  });

  it('a local image below the floor starts nothing: SECURITY UPDATE REQUIRED, exit 3', async () => {
    // carol still has v1 installed; the channel's floor is now v2's creation time
    const r = await carol.aibox(['start', '--workspace', carolWs, '--', 'touch', '/workspace/started']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(
      'SECURITY UPDATE REQUIRED: A critical vulnerability (CVE-2026-12345, CVSS 9.8) has been',
    );
    expect(await sandboxes(carolWs)).toEqual([]);
    noStack(r);
  });

  it('podman missing: a clear error with a hint, exit 1, no stack trace', async () => {
    const r = await alice.aibox(['start', '--workspace', ws, '--', 'true'], { PATH: '/nonexistent' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('podman not found');
    expect(r.stderr).toContain('Install podman');
    noStack(r);
  });

  it("a local image that is not the signed one starts nothing: the runbook's three lines, exit 12", async () => {
    // Tamper: the local name carol's sandbox starts from now names another (unsigned) image.
    expect((await carol.aibox(['update'])).code).toBe(0);
    await buildTestImage(w.podman, LOCAL_V2(), { runId: w.runId, files: { '/etc/evil': 'x' } });
    const r = await carol.aibox(['start', '--workspace', carolWs, '--', 'touch', '/workspace/started']);
    expect(r.code).toBe(12);
    expect(r.stderr).toContain(
      [
        'ERROR: Image signature verification failed for aibox-base:24.04-20250621.',
        'This image may have been tampered with. Contact the platform team.',
        "Run 'aibox update' to pull a fresh image from Harbor.",
      ].join('\n'),
    );
    expect(await sandboxes(carolWs)).toEqual([]);
    noStack(r);
  });
});

describe('fleet report (aibox start, check, update)', () => {
  const TOKEN = 'fleet-e2e-token-9f8e7d6c5b4a';
  let server: Server;
  let url: string;
  let answer = true;
  const bodies: { auth: string | undefined; body: FleetReport }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c));
      req.on('end', () => {
        if (!answer) return; // the hostile one: accepts, never answers
        bodies.push({ auth: req.headers.authorization, body: JSON.parse(body) as FleetReport });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/reports`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('sends one schema-valid report per command, with the bearer token, never printing it', async () => {
    const dave = await w.developer('dave');
    const tokenFile = join(dave.home, 'fleet-token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const s = await dave.aibox([
      'setup',
      '--registry',
      `${w.host}/aibox`,
      '--key',
      w.pubPath,
      '--fleet',
      url,
      '--fleet-token-file',
      tokenFile,
    ]);
    expect(s.code, s.stderr).toBe(0);
    const runs = [
      await dave.aibox(['--debug', 'update']),
      await dave.aibox(['--debug', 'check']),
      await dave.aibox(['--debug', 'start', '--workspace', carolWs, '--', 'true']),
    ];
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      expect(`${r.stdout}${r.stderr}`).not.toContain(TOKEN);
      expect(r.stderr).toContain(`fleet report sent to ${url}`);
    }
    expect(bodies.map((b) => b.body.event)).toEqual(['update', 'check', 'start']);
    for (const b of bodies) {
      expect(b.auth).toBe(`Bearer ${TOKEN}`);
      expect(fleetReportSchema.safeParse(b.body).success).toBe(true);
      expect(b.body).toMatchObject({
        variant: 'base',
        outcome: 'ok',
        floorMet: true,
        image: { digest: v2.digest },
      });
    }

    // An endpoint that never answers: the command still finishes, the report is dropped with one debug line.
    answer = false;
    const r = await dave.aibox(['--debug', 'start', '--workspace', carolWs, '--', 'sh', '-c', 'exit 6']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(
      /fleet report dropped \(http:\/\/127\.0\.0\.1:\d+\/reports\): no answer within 500 ms/,
    );
    expect(bodies).toHaveLength(3);
  });
});
