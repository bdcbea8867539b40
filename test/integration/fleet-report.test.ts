/**
 * The fleet report sender against small servers on 127.0.0.1: one that records what it receives,
 * one that accepts the connection and never answers, one that answers an error. The command it
 * rides on always finishes; a report that cannot be delivered is dropped with one debug line.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sendFleetReport, fleetSender } from '../../src/adapters/fleet-http.js';
import { redact } from '../../src/core/redact.js';
import type { Logger } from '../../src/core/log.js';
import { fleetClientId, reportFromPreflight, type FleetReport } from '../../src/fleet/report.js';
import { fleetReportSchema } from '../../src/fleet/schema.js';
import { MemoryImageStore } from '../../src/oci/memory-store.js';
import type { Preflight } from '../../src/sandbox/preflight.js';
import { startSandbox } from '../../src/sandbox/start.js';
import { FakeEngine } from '../doubles/fake-engine.js';

interface Received {
  readonly method: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

const servers: Server[] = [];
const sockets = new Set<Socket>();
async function serve(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => handler(req, res, body));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/reports`;
}
afterEach(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

let dir: string;
let tokenFile: string;
const TOKEN = 'fleet-token-0123456789abcdef';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aibox-fleet-'));
  tokenFile = join(dir, 'token');
  await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const image = {
  variant: 'base',
  displayName: 'aibox-base:24.04-20260221',
  tag: '24.04-20260221',
  digest: `sha256:${'b'.repeat(64)}`,
  created: '2026-02-21T02:00:00Z',
  ref: 'localhost/aibox/base:24.04-20260221',
};
const ok: Preflight = {
  ok: true,
  image,
  signer: 'platform-ci@aibox.internal',
  signedAt: '2026-02-21T02:30:00Z',
  floor: null,
  offline: false,
  warnings: [],
  channelSequence: 3,
};
const report: FleetReport = reportFromPreflight('start', 'base', ok, {
  clientId: fleetClientId('h', 'u'),
  aiboxVersion: '0.1.0',
  now: new Date('2026-02-22T09:00:00Z'),
});

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (m: string) => void lines.push(m);
  return { lines, debug: log, info: log, warn: log, error: log };
}

describe('fleet report sender', () => {
  it('POSTs the report as JSON with the bearer token from the token file; the token is registered as a secret', async () => {
    const got: Received[] = [];
    const url = await serve((req, res, body) => {
      got.push({ method: req.method ?? '', headers: req.headers, body });
      res.writeHead(202).end();
    });
    expect(await sendFleetReport({ url, tokenFile }, report)).toBe('sent');
    expect(got).toHaveLength(1);
    expect(got[0]!.method).toBe('POST');
    expect(got[0]!.headers['content-type']).toBe('application/json');
    expect(got[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const body = JSON.parse(got[0]!.body) as unknown;
    expect(body).toEqual(report);
    expect(fleetReportSchema.safeParse(body).success).toBe(true);
    expect(redact(`token is ${TOKEN}`)).toBe('token is ***');
  });

  it('a server that never answers: dropped within the budget with a debug line, the connection closed', async () => {
    let connected = 0;
    const url = await serve(() => {
      /* never answers */
    });
    servers[0]!.on('connection', (s: Socket) => {
      connected++;
      s.on('close', () => connected--);
    });
    const logger = recordingLogger();
    expect(await sendFleetReport({ url, tokenFile }, report, { logger, budgetMs: 200 })).toBe('dropped');
    expect(logger.lines).toEqual([
      expect.stringMatching(
        /^fleet report dropped \(http:\/\/127\.0\.0\.1:\d+\/v1\/reports\): no answer within 200 ms$/,
      ),
    ]);
    await new Promise((r) => setTimeout(r, 50));
    expect(connected).toBe(0);
  });

  it.each([
    ['an HTTP error', async () => serve((_q, res) => res.writeHead(500).end('boom')), /HTTP 500/],
    [
      'a redirect (the token is not sent on)',
      async () => serve((_q, res) => res.writeHead(302, { location: 'http://127.0.0.1:1/' }).end()),
      /HTTP 302/,
    ],
    ['nobody listening', async () => 'http://127.0.0.1:1/r', /ECONNREFUSED/],
    [
      'an unreadable token file',
      async () => serve((_q, res) => res.writeHead(204).end()),
      /token file .* unreadable/,
    ],
  ])('%s: dropped with one debug line, never thrown', async (_what, make, why) => {
    const url = await make();
    const logger = recordingLogger();
    const tf = _what.includes('token file') ? join(dir, 'missing') : tokenFile;
    expect(await sendFleetReport({ url, tokenFile: tf }, report, { logger })).toBe('dropped');
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatch(why);
    expect(logger.lines[0]).not.toContain(TOKEN);
  });

  it('aibox start with an unanswering fleet endpoint still runs the command and returns its exit code', async () => {
    const url = await serve(() => {
      /* never answers */
    });
    const engine = new FakeEngine(new MemoryImageStore());
    engine.commandExitCode = () => 4;
    const logger = recordingLogger();
    const send = fleetSender({ url, tokenFile }, { logger, budgetMs: 200 });
    const r = await startSandbox(
      {
        engine,
        preflight: async () => ok,
        report: (pf) =>
          send(
            reportFromPreflight('start', 'base', pf, {
              clientId: 'x'.repeat(64),
              aiboxVersion: '0',
              now: new Date(),
            }),
          ),
        say: () => {},
      },
      { variant: 'base', workspace: '/ws', command: ['false'], tty: false },
    );
    expect(r.exitCode).toBe(4);
    expect(engine.sandboxRuns).toHaveLength(1);
    expect(logger.lines).toEqual([expect.stringContaining('fleet report dropped')]);
  });
});
