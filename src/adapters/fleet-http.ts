/**
 * The fleet endpoint's transport (issue 10 §6): one POST of the fleet report, bearer token from the
 * developer config's `fleet.tokenFile` (registered with core/redact before anything can print it).
 * It has a hard budget (default 500 ms) that covers reading the token, connecting, sending and the
 * answer; when the budget runs out the request is destroyed. It never throws and never fails the
 * command: whatever goes wrong is one debug line, and the report is dropped.
 */
import { readFile } from 'node:fs/promises';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { registerSecret, registerUrlCredentials, sanitize } from '../core/redact.js';
import { silentLogger, type Logger } from '../core/log.js';
import type { FleetReport, FleetSettings, FleetSink } from '../fleet/report.js';

/** The whole budget of one report, connect included (issue 10 §6). */
export const FLEET_BUDGET_MS = 500;
/** A token file larger than this is not a token. */
const MAX_TOKEN_BYTES = 8192;

export interface FleetSenderOptions {
  readonly budgetMs?: number;
  readonly logger?: Logger;
}

export type FleetSendResult = 'sent' | 'dropped';

/** A `FleetSink` for the configured endpoint; each call resolves within the budget. */
export function fleetSender(settings: FleetSettings, opts: FleetSenderOptions = {}): FleetSink {
  return async (report) => {
    await sendFleetReport(settings, report, opts);
  };
}

/** POST one report; 'sent' on a 2xx answer within the budget, else 'dropped' (with a debug line why). */
export function sendFleetReport(
  settings: FleetSettings,
  report: FleetReport,
  opts: FleetSenderOptions = {},
): Promise<FleetSendResult> {
  const logger = opts.logger ?? silentLogger;
  const budget = opts.budgetMs ?? FLEET_BUDGET_MS;
  registerUrlCredentials(settings.url);
  return new Promise<FleetSendResult>((resolve) => {
    let req: ClientRequest | undefined;
    let settled = false;
    // a function, not the variable: the budget timer may settle while the token is being read
    const finished = (): boolean => settled;
    const done = (result: FleetSendResult, why?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (why) logger.debug(sanitize(`fleet report dropped (${settings.url}): ${why}`));
      else logger.debug(sanitize(`fleet report sent to ${settings.url}`));
      req?.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done('dropped', `no answer within ${budget} ms`), budget);
    void (async () => {
      let url: URL;
      try {
        url = new URL(settings.url);
      } catch {
        done('dropped', 'the fleet URL is not a URL');
        return;
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        done('dropped', `unsupported scheme ${url.protocol}`);
        return;
      }
      let token: string | undefined;
      if (settings.tokenFile) {
        try {
          token = await readToken(settings.tokenFile);
        } catch (e: unknown) {
          done('dropped', `token file ${settings.tokenFile} unreadable: ${(e as Error).message}`);
          return;
        }
      }
      if (finished()) return;
      const body = JSON.stringify(report);
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      try {
        req = send(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': `aibox/${report.aiboxVersion}`,
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
        });
      } catch (e: unknown) {
        done('dropped', (e as Error).message);
        return;
      }
      req.on('error', (e) => done('dropped', e.message));
      req.on('response', (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) done('sent');
        else done('dropped', `HTTP ${status}`);
      });
      req.end(body);
    })();
  });
}

/** The bearer token: the file's first line, registered as a secret before it goes anywhere. */
async function readToken(path: string): Promise<string | undefined> {
  const text = await readFile(path, 'utf8');
  if (text.length > MAX_TOKEN_BYTES) throw new Error(`larger than ${MAX_TOKEN_BYTES} bytes`);
  const token = text.split('\n')[0]?.trim();
  registerSecret(token);
  return token || undefined;
}
