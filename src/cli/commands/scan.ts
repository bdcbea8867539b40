/**
 * `aiboxctl scan IMAGE`: resolve the image to a digest, scan it with the configured scanner, apply
 * the gate policy. Exit 0 passed, 3 refused by policy, 1 scanner failure, 2 no scanner configured.
 */
import { sanitize } from '../../core/redact.js';
import type { Command } from 'commander';
import { Option } from 'commander';
import { AiboxError } from '../../core/errors.js';
import { formatReference } from '../../oci/reference.js';
import { scannerFromConfig, type ScannerKind } from '../../scan/factory.js';
import { evaluateScan, scanRefusal, validateScanPolicy, type ScanEvaluation } from '../../scan/policy.js';
import { renderScanText } from '../../scan/render.js';
import type { ScanReport } from '../../scan/report.js';
import type { Context, RegisterCommands } from '../command.js';
import { exitCodeFor } from '../exit.js';
import type { Outcome } from '../output.js';
import { resolveImage } from '../resolve.js';

export interface ScanFlags {
  readonly scanner?: 'trivy' | 'harbor';
  readonly trivyPath?: string;
}

export interface ScanResult {
  readonly image: string;
  readonly digest: string;
  readonly scanner: string;
  readonly passed: boolean;
  readonly evaluation: ScanEvaluation;
  readonly report: ScanReport;
  /** Present when the gate refused the image. */
  readonly error?: { readonly code: 'POLICY_REFUSED'; readonly message: string; readonly hint?: string };
}

/** The command body, separate from commander so tests can call it with a fake Context. */
export async function scanImage(ctx: Context, image: string, flags: ScanFlags): Promise<Outcome<ScanResult>> {
  const { config } = await ctx.config();
  const kind: ScannerKind = flags.scanner ?? config.scan.scanner;
  if (kind === 'none') {
    throw new AiboxError({
      code: 'USAGE',
      message: `cannot scan ${image}: scanning is disabled (scan.scanner: none)`,
      hint: 'Pass --scanner trivy or --scanner harbor, or set scan.scanner in the aibox config',
    });
  }
  // Policy errors (an ignore entry without reason or expiry) surface before any scanning.
  const policy = validateScanPolicy({ failOn: config.scan.failOn, ignore: config.scan.ignore });

  const target = await ctx.target();
  const ref = resolveImage(image, target, { defaultTag: 'latest' });
  const head = await target.client.headManifest(ref);
  if (head === null) {
    throw new AiboxError({
      code: 'NOT_FOUND',
      message: `image ${formatReference(ref)} not found`,
      hint: `List the tags with: aiboxctl tags ${ref.repository.split('/').pop() ?? ref.repository}`,
    });
  }
  const digest = ref.digest ?? head.digest;
  if (ref.digest && head.digest !== ref.digest) {
    throw new AiboxError({
      code: 'DIGEST_MISMATCH',
      message: `${formatReference(ref)} resolved to ${head.digest}`,
      hint: 'The registry served a different manifest than the digest asked for',
    });
  }
  const reference = formatReference({
    registry: ref.registry,
    repository: ref.repository,
    ...(ref.tag ? { tag: ref.tag } : {}),
  });

  const scanner = scannerFromConfig(
    { scanner: kind, trivyPath: flags.trivyPath ?? config.scan.trivyPath },
    { host: target.host, project: target.project, insecure: config.registry.insecure },
    { exec: ctx.exec, env: ctx.env, logger: ctx.logger },
  );
  if (!scanner) throw new AiboxError({ code: 'INTERNAL', message: `no scanner for ${kind}` });
  const report = await scanner.scan({ reference, digest });
  const evaluation = evaluateScan(report, policy, ctx.now());
  const refusal = scanRefusal(evaluation, `${reference}@${digest}`);
  const text = renderScanText({ image: reference, digest, scanner: scanner.name, evaluation });
  if (refusal) {
    // stderr, as for any refusal; stdout keeps the result (text table or --json document).
    ctx.io.err(`error: ${sanitize(refusal.message)}\n`);
    if (refusal.hint) ctx.io.err(`hint: ${sanitize(refusal.hint)}\n`);
  }
  return {
    data: {
      image: reference,
      digest,
      scanner: scanner.name,
      passed: evaluation.passed,
      evaluation,
      report,
      ...(refusal
        ? {
            error: {
              code: 'POLICY_REFUSED' as const,
              message: refusal.message,
              ...(refusal.hint ? { hint: refusal.hint } : {}),
            },
          }
        : {}),
    },
    text,
    // The exit code comes from the error code, as for any thrown error (src/cli/exit.ts).
    ...(refusal ? { exitCode: exitCodeFor(refusal) } : {}),
  };
}

export const registerScanCommands: RegisterCommands = (program: Command, run) => {
  program
    .command('scan')
    .description('scan an image for vulnerabilities and apply the gate policy (scan.failOn, scan.ignore)')
    .argument('<image>', 'base:latest, aibox/java:21-24.04-20260221, or host/aibox/base@sha256:…')
    .addOption(
      new Option('--scanner <kind>', 'scanner to use instead of scan.scanner').choices(['trivy', 'harbor']),
    )
    .option('--trivy-path <path>', 'trivy binary to run instead of scan.trivyPath')
    .addHelpText(
      'after',
      `
Exit codes: 0 passed, 1 the scanner failed (the gate fails closed), 2 no scanner configured,
3 refused by policy (a finding at a scan.failOn severity that no live scan.ignore entry covers).

Examples:
  $ aiboxctl scan base:latest
  $ aiboxctl scan java:21-24.04-20260221 --scanner harbor --json
  $ aiboxctl scan base --trivy-path /opt/trivy/trivy`,
    )
    .action(run(async (ctx, image: string, flags: ScanFlags) => scanImage(ctx, image, flags)));
};
