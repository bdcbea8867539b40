/**
 * The fleet report's schema (zod/mini), the source of schema/fleet-report.schema.json (`npm run gen`)
 * and what tests validate built reports against. Not loaded by the CLI: report.ts builds the
 * document without zod, and a test keeps the two in step.
 */
import * as z from 'zod/mini';
import { FLEET_REPORT_SCHEMA } from './report.js';

const d = <S extends z.ZodMiniType>(s: S, description: string): S => s.check(z.describe(description));

const rfc3339 = z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/));

export const fleetReportSchema = z.strictObject({
  schema: d(z.literal(FLEET_REPORT_SCHEMA), 'Document type and version'),
  clientId: d(
    z.string().check(z.regex(/^[0-9a-f]{64}$/)),
    'sha256 (hex) of the host name and user name: stable per developer account, names neither',
  ),
  event: d(z.enum(['start', 'check', 'update']), 'The command that sent the report'),
  at: d(rfc3339, 'When the report was made (UTC)'),
  aiboxVersion: d(z.string().check(z.minLength(1), z.maxLength(64)), 'The aibox CLI version'),
  variant: d(z.string().check(z.regex(/^[a-z][a-z0-9-]*$/)), 'Image variant, e.g. base'),
  image: d(
    z.nullable(
      z.strictObject({
        digest: d(z.string().check(z.regex(/^sha256:[0-9a-f]{64}$/)), 'Manifest digest of the local image'),
        tag: d(z.string().check(z.maxLength(128)), 'Its date tag, e.g. 24.04-20260221'),
        created: d(rfc3339, 'Its creation time (org.opencontainers.image.created)'),
      }),
    ),
    'The local image the command looked at; null when there is none',
  ),
  floorMet: d(
    z.nullable(z.boolean()),
    "Whether the image meets the variant's security floor; null = unknown",
  ),
  outcome: d(z.enum(['ok', 'refused', 'failed']), 'As the --json envelope: refused = the check said no'),
  refusal: d(
    z.nullable(z.enum(['signature', 'floor', 'no-image', 'channel'])),
    'Why the command said no or could not check; null when it did not',
  ),
  signatureFailures: d(
    z.int().check(z.minimum(0)),
    'Images whose signature failed verification in this command',
  ),
  channelSequence: d(z.nullable(z.int().check(z.minimum(0))), 'Channel sequence used; null when none'),
  offline: d(z.boolean(), 'Verified from the local cache because the registry was unreachable'),
});

/** Where the generated schema is committed, and its exact text. */
export function renderFleetSchema(): Record<string, string> {
  const json = z.toJSONSchema(fleetReportSchema, { io: 'input', unrepresentable: 'any' });
  return {
    'schema/fleet-report.schema.json': `${JSON.stringify({ ...json, title: 'aibox fleet report (POSTed by aibox start, check, update)' }, null, 2)}\n`,
  };
}
