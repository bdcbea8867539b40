/**
 * Test double for Harbor v2.0's REST API, on a loopback port: exactly the endpoints aibox's
 * HarborScanner uses, with the shapes in reference/harbor.md §0, §1, §3:
 *   POST /api/v2.0/projects/{p}/repositories/{r}/artifacts/{digest}/scan        → 202, no body
 *   GET  /api/v2.0/projects/{p}/repositories/{r}/artifacts/{digest}?with_scan_overview=true
 *   GET  /api/v2.0/projects/{p}/repositories/{r}/artifacts/{digest}/additions/vulnerabilities
 * Basic auth (401 without valid credentials, 403 without the scan permission), `{"errors":[…]}`
 * bodies, X-Request-Id on every answer, repository names double-encoded in the path (a singly
 * encoded nested name is not found, as in Harbor), scan_status progressing one step per poll.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminRoute, newAdminState, type AdminState } from './harbor-admin.js';

export const VULN_MIME = 'application/vnd.security.vulnerability.report; version=1.1';

export interface HarborVulnItem {
  readonly id: string;
  readonly package: string;
  readonly version: string;
  readonly fix_version?: string;
  readonly severity: string;
  readonly status?: string;
  readonly description?: string;
  readonly links?: readonly string[];
  readonly cvss?: Readonly<Record<string, number>>;
}

export interface HarborArtifactSpec {
  /** Repository name without the project, e.g. "base" or "team/app". */
  readonly repository: string;
  readonly digest: string;
  /** scan_status after each poll following a trigger; the last one repeats. Default Pending, Running, Success. */
  readonly statuses?: readonly string[];
  readonly vulnerabilities?: readonly HarborVulnItem[];
}

export interface HarborDoubleOptions {
  readonly project: string;
  /** username → password */
  readonly users: Readonly<Record<string, string>>;
  /** Users that may log in but lack scan:create. */
  readonly withoutScanPermission?: readonly string[];
  /** Users that may log in but lack the retention/GC/quota permissions (403 on those routes). */
  readonly withoutAdminPermission?: readonly string[];
}

export interface RecordedRequest {
  readonly method: string;
  readonly rawPath: string;
  readonly user: string | undefined;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

interface ArtifactState {
  spec: HarborArtifactSpec;
  triggered: number;
  polls: number;
  reportId: string;
}

export interface HarborDouble {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly requests: RecordedRequest[];
  addArtifact(spec: HarborArtifactSpec): void;
  /** Retention policies, GC schedule and history, quota (test/doubles/harbor-admin.ts); tests may set it. */
  readonly admin: AdminState;
  stop(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown, reqId: string): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-request-id': reqId,
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function errors(code: string, message: string) {
  return { errors: [{ code, message }] };
}

function vendorItem(v: HarborVulnItem, digest: string) {
  const CVSS: Record<string, unknown> = {};
  for (const [source, score] of Object.entries(v.cvss ?? {})) {
    CVSS[source] = { V3Vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', V3Score: score };
  }
  const nvd = v.cvss?.['nvd'] ?? Object.values(v.cvss ?? {})[0] ?? 0;
  return {
    id: v.id,
    package: v.package,
    version: v.version,
    fix_version: v.fix_version ?? '',
    severity: v.severity,
    status: v.status ?? (v.fix_version ? 'fixed' : 'affected'),
    description: v.description ?? `Description of ${v.id}.`,
    links: v.links ?? [`https://avd.aquasec.com/nvd/${v.id.toLowerCase()}`],
    artifact_digests: [digest],
    preferred_cvss: { score_v3: nvd, score_v2: null, vector_v3: '', vector_v2: '' },
    cwe_ids: ['CWE-787'],
    vendor_attributes: { CVSS },
  };
}

const RANK = ['None', 'Unknown', 'Low', 'Medium', 'High', 'Critical'];

function summaryOf(items: readonly HarborVulnItem[]) {
  const summary: Record<string, number> = {};
  let top = 'None';
  for (const v of items) {
    summary[v.severity] = (summary[v.severity] ?? 0) + 1;
    if (RANK.indexOf(v.severity) > RANK.indexOf(top)) top = v.severity;
  }
  return { total: items.length, fixable: items.filter((v) => v.fix_version).length, summary, top };
}

/** Start the double on a free loopback port. */
export async function startHarborDouble(options: HarborDoubleOptions): Promise<HarborDouble> {
  const artifacts = new Map<string, ArtifactState>();
  const requests: RecordedRequest[] = [];
  const admin = newAdminState();
  let seq = 0;

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const reqId = `req-${++seq}`;
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1));

    let user: string | undefined;
    let password: string | undefined;
    const auth = req.headers.authorization ?? '';
    if (auth.startsWith('Basic ')) {
      const plain = Buffer.from(auth.slice(6), 'base64').toString('utf8');
      const colon = plain.indexOf(':');
      if (colon > 0) {
        user = plain.slice(0, colon);
        password = plain.slice(colon + 1);
      }
    }
    requests.push({ method: req.method ?? '', rawPath, user, headers: req.headers, body });
    if (req.headers.cookie) {
      send(res, 403, errors('FORBIDDEN', 'CSRF token invalid'), reqId);
      return;
    }
    if (user === undefined || options.users[user] !== password) {
      if (rawPath.startsWith('/v2')) {
        // The registry API challenges (Harbor's is a bearer token service; Basic is what the double offers).
        const text = JSON.stringify(errors('UNAUTHORIZED', 'unauthorized'));
        res.writeHead(401, {
          'content-type': 'application/json',
          'www-authenticate': 'Basic realm="harbor-double"',
          'x-request-id': reqId,
          'content-length': Buffer.byteLength(text),
        });
        res.end(text);
        return;
      }
      send(res, 401, errors('UNAUTHORIZED', 'unauthorized'), reqId);
      return;
    }

    // The registry API (/v2/): nothing is stored in the double, so every manifest is unknown (harbor.md §9).
    if (rawPath === '/v2/' || rawPath === '/v2') {
      send(res, 200, {}, reqId);
      return;
    }
    if (rawPath.startsWith('/v2/')) {
      send(res, 404, errors('MANIFEST_UNKNOWN', 'manifest unknown'), reqId);
      return;
    }
    const answer = adminRoute(admin, options.project, req.method ?? '', rawPath, query, body);
    if (answer) {
      if (options.withoutAdminPermission?.includes(user)) {
        send(res, 403, errors('FORBIDDEN', 'forbidden'), reqId);
        return;
      }
      const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
      res.writeHead(answer.status, {
        'content-type': 'application/json',
        'x-request-id': reqId,
        'content-length': Buffer.byteLength(text),
        ...answer.headers,
      });
      res.end(text);
      return;
    }

    // /api/v2.0/projects/{p}/repositories/{r}/artifacts/{ref}[/scan | /additions/vulnerabilities]
    const seg = rawPath.split('/');
    const m =
      seg[1] === 'api' &&
      seg[2] === 'v2.0' &&
      seg[3] === 'projects' &&
      seg[5] === 'repositories' &&
      seg[7] === 'artifacts'
        ? seg
        : undefined;
    if (!m || seg.length < 9) {
      send(res, 404, errors('NOT_FOUND', `no route for ${rawPath}`), reqId);
      return;
    }
    let project: string;
    let repoOnce: string;
    let reference: string;
    try {
      project = decodeURIComponent(seg[4] ?? '');
      // The HTTP layer decodes once; Harbor decodes the repository parameter a second time.
      repoOnce = decodeURIComponent(seg[6] ?? '');
      reference = decodeURIComponent(seg[8] ?? '');
    } catch {
      send(res, 400, errors('BAD_REQUEST', 'bad path encoding'), reqId);
      return;
    }
    if (repoOnce.includes('/')) {
      send(res, 404, errors('NOT_FOUND', `no route for ${rawPath}`), reqId);
      return;
    }
    let repository: string;
    try {
      repository = decodeURIComponent(repoOnce);
    } catch {
      send(res, 400, errors('BAD_REQUEST', 'bad repository encoding'), reqId);
      return;
    }
    const rest = seg.slice(9).join('/');
    if (project !== options.project) {
      send(res, 404, errors('NOT_FOUND', `project ${project} not found`), reqId);
      return;
    }
    const art = artifacts.get(`${repository}@${reference}`);
    if (!art) {
      send(
        res,
        404,
        errors('NOT_FOUND', `artifact ${options.project}/${repository}@${reference} not found`),
        reqId,
      );
      return;
    }

    if (req.method === 'POST' && rest === 'scan') {
      if (options.withoutScanPermission?.includes(user)) {
        send(res, 403, errors('FORBIDDEN', 'forbidden'), reqId);
        return;
      }
      art.triggered += 1;
      art.polls = 0;
      art.reportId = `5f62c830-f996-11e9-957f-0242c0a8${String(art.triggered).padStart(4, '0')}`;
      send(res, 202, undefined, reqId);
      return;
    }
    if (req.method === 'GET' && rest === '') {
      const statuses = art.spec.statuses ?? ['Pending', 'Running', 'Success'];
      let overview: Record<string, unknown> | undefined;
      if (art.triggered > 0 && query.get('with_scan_overview') === 'true') {
        const status = statuses[Math.min(art.polls, statuses.length - 1)] ?? 'Success';
        art.polls += 1;
        const s = summaryOf(art.spec.vulnerabilities ?? []);
        overview = {
          [VULN_MIME]: {
            report_id: art.reportId,
            scan_status: status,
            severity: status === 'Success' ? s.top : '',
            duration: status === 'Success' ? 12 : 0,
            start_time: '2026-02-22T02:00:05Z',
            end_time:
              status === 'Success' || status === 'Error' ? '2026-02-22T02:00:17Z' : '0001-01-01T00:00:00Z',
            complete_percent: status === 'Success' ? 100 : 0,
            scanner: { name: 'Trivy', vendor: 'Aqua Security', version: 'v0.74.0' },
            ...(status === 'Success'
              ? { summary: { total: s.total, fixable: s.fixable, summary: s.summary } }
              : {}),
          },
        };
      }
      const path = `/api/v2.0/projects/${seg[4]}/repositories/${seg[6]}/artifacts/${art.spec.digest}`;
      send(
        res,
        200,
        {
          id: 42,
          type: 'IMAGE',
          media_type: 'application/vnd.oci.image.config.v1+json',
          manifest_media_type: 'application/vnd.oci.image.manifest.v1+json',
          project_id: 2,
          repository_id: 7,
          repository_name: `${options.project}/${repository}`,
          digest: art.spec.digest,
          size: 30123456,
          push_time: '2026-02-22T02:00:02.345Z',
          pull_time: '0001-01-01T00:00:00.000Z',
          extra_attrs: { architecture: 'amd64', os: 'linux', created: '2026-02-22T01:59:00Z' },
          annotations: {},
          references: null,
          addition_links: {
            build_history: { href: `${path}/additions/build_history`, absolute: false },
            vulnerabilities: { href: `${path}/additions/vulnerabilities`, absolute: false },
          },
          ...(overview ? { scan_overview: overview } : {}),
        },
        reqId,
      );
      return;
    }
    if (req.method === 'GET' && rest === 'additions/vulnerabilities') {
      const statuses = art.spec.statuses ?? ['Pending', 'Running', 'Success'];
      if (art.triggered === 0 || !statuses.includes('Success')) {
        send(res, 200, {}, reqId);
        return;
      }
      const items = art.spec.vulnerabilities ?? [];
      send(
        res,
        200,
        {
          [VULN_MIME]: {
            generated_at: '2026-02-22T02:00:17.123Z',
            scanner: { name: 'Trivy', vendor: 'Aqua Security', version: 'v0.74.0' },
            severity: summaryOf(items).top,
            vulnerabilities: items.map((v) => vendorItem(v, art.spec.digest)),
          },
        },
        reqId,
      );
      return;
    }
    send(res, 405, errors('METHOD_NOT_ALLOWED', `${req.method} ${rawPath}`), reqId);
  };

  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => handle(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    admin,
    addArtifact(spec) {
      artifacts.set(`${spec.repository}@${spec.digest}`, { spec, triggered: 0, polls: 0, reportId: '' });
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
