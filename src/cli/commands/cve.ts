/** `aiboxctl cve triage | list | accept` (issue 9 §1, §2): flag mapping and rendering. */
import type { Command } from 'commander';
import { AiboxError } from '../../core/errors.js';
import { checkAcceptance, deadlineMet } from '../../cve/records.js';
import { readCveRecords } from '../../cve/record-store.js';
import { renderRecords, renderTriage } from '../../cve/render.js';
import { runAccept, runTriage, triagePolicy } from '../../cve/triage-run.js';
import type { Context, RegisterCommands } from '../command.js';
import { registerCveRebuild } from './cve-rebuild.js';
import { cveDeps, parseNowFlag, readReportFiles, scanForTriage } from '../cve-deps.js';

const collect = (v: string, prev: string[]) => [...prev, v];

interface TriageFlags {
  report: string[];
  now?: string;
  record: boolean;
  key?: string;
}

async function triageCommand(ctx: Context, images: string[], flags: TriageFlags) {
  const now = parseNowFlag(flags.now, ctx);
  if (images.length === 0 && flags.report.length === 0) {
    throw new AiboxError({
      code: 'USAGE',
      message: 'cve triage needs --report FILE or IMAGE arguments',
      hint: 'e.g. aiboxctl cve triage --report base.json, or aiboxctl cve triage base:latest',
    });
  }
  const reports = [...(await readReportFiles(ctx, flags.report)), ...(await scanForTriage(ctx, images))];
  const { config } = await ctx.config();
  const deps = flags.record ? await cveDeps(ctx, { key: flags.key, write: true }) : {};
  const r = await runTriage(deps, reports, triagePolicy(config.cve), now);
  return {
    data: {
      now: now.toISOString(),
      rows: r.rows,
      recorded: r.records !== null,
      localCopy: r.localCopy ?? null,
    },
    // The table of a large triage costs as much as the triage itself: not built when --json discards it.
    text: ctx.global.json ? '' : renderTriage(r.rows),
  };
}

async function listCommand(ctx: Context, flags: { trusted: string[]; key?: string }) {
  const deps = await cveDeps(ctx, { key: flags.key, trusted: flags.trusted, write: false });
  const doc = await readCveRecords(deps.records);
  const now = ctx.now();
  if (doc) await deps.saveLocal(doc);
  return {
    data: {
      updatedAt: doc?.updatedAt ?? null,
      records: (doc?.records ?? []).map((r) => ({ ...r, deadlineMet: deadlineMet(r, now) })),
    },
    text: renderRecords(doc, now),
  };
}

async function acceptCommand(
  ctx: Context,
  flags: { cve: string; reason: string; expires: string; key?: string },
) {
  const now = ctx.now();
  const { id, reason, expires } = checkAcceptance(
    { id: flags.cve, reason: flags.reason, expires: flags.expires },
    now,
  );
  const r = await runAccept(
    await cveDeps(ctx, { key: flags.key, write: true }),
    { id: flags.cve, reason, expires },
    now,
  );
  const rec = r.records.records.find((x) => x.id === id);
  return {
    data: { record: rec ?? null, localCopy: r.localCopy },
    text: `${id}: accepted until ${expires}: ${reason}`,
  };
}

export const registerCveCommands: RegisterCommands = (program: Command, run) => {
  const cve = program
    .command('cve')
    .description('CVE response (runbook §2): triage by CVSS, the CVE records, accepted risks')
    .addHelpText(
      'after',
      '\nExamples:\n  $ aiboxctl cve triage --report base.json --report java.json\n  $ aiboxctl cve list --json',
    );
  cve
    .command('triage')
    .description(
      'triage scan reports (or scan IMAGEs first): one row per CVE with CVSS, severity, deadline and the exact command to run; recorded in the registry',
    )
    .argument('[image...]', 'images to scan first with the configured scanner (base:latest, aibox/java:…)')
    .option(
      '--report <file>',
      'Trivy JSON (SchemaVersion 2) or Harbor vulnerability report (repeatable)',
      collect,
      [],
    )
    .option('--now <time>', 'triage as of this RFC 3339 time (default: now)')
    .option('--no-record', 'do not record the result in the CVE records')
    .option('--key <key>', 'signing key for the CVE records (default: signing.key)')
    .addHelpText(
      'after',
      `
Deadlines from first seen (runbook §2): Critical (9.0-10.0) 4 hours; High (7.0-8.9) the same business day
(cve.businessHours; after hours or on a non-business day: the end of the next one); Medium and Low the next
weekly rebuild (Sunday 02:00 UTC). Mandatory update at CVSS >= cve.mandatoryMinCvss (default 7.0).

Examples:
  $ aiboxctl cve triage --report base.json --now 2026-02-18T10:00:00Z
  $ aiboxctl cve triage base:latest java:latest --json`,
    )
    .action(run((ctx, images: string[], flags: TriageFlags) => triageCommand(ctx, images, flags)));
  cve
    .command('list')
    .description(
      'the CVE records: open, fixed (by which tag, when) and accepted, and whether each deadline was met',
    )
    .option(
      '--trusted <pub>',
      'public key the records must be signed with (repeatable; default: signing.trustedKeys + signing.key)',
      collect,
      [],
    )
    .option('--key <key>', 'the pipeline signing key, trusted for the records (default: signing.key)')
    .addHelpText('after', '\nExample:\n  $ aiboxctl cve list --json')
    .action(run((ctx, flags: { trusted: string[]; key?: string }) => listCommand(ctx, flags)));
  cve
    .command('accept')
    .description('record an accepted risk for a triaged CVE, with a reason and an expiry date')
    .requiredOption('--cve <id>', 'the CVE id, e.g. CVE-2026-12345')
    .requiredOption('--reason <text>', 'why the risk is accepted')
    .requiredOption('--expires <date>', 'YYYY-MM-DD: the acceptance ends after this day')
    .option('--key <key>', 'signing key for the CVE records (default: signing.key)')
    .addHelpText(
      'after',
      '\nExample:\n  $ aiboxctl cve accept --cve CVE-2026-12345 --reason "not reachable" --expires 2026-03-31',
    )
    .action(
      run((ctx, flags: { cve: string; reason: string; expires: string; key?: string }) =>
        acceptCommand(ctx, flags),
      ),
    );
  registerCveRebuild(cve, run);
};
