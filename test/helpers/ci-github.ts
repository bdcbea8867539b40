/**
 * Test helper: run a GitHub Actions workflow's `run:` steps on this machine, in job order.
 *
 * The workflow is first validated with GitHub's own parser (@actions/workflow-parser); any error
 * throws. Then jobs run in `needs:` order, each matrix leg as its own job, one at a time, each step
 * with `bash -e` as GitHub's default shell, with GITHUB_OUTPUT / GITHUB_ENV files, `steps.<id>.outputs`,
 * job `outputs:`, `needs.<job>.outputs|result`, and `if:` with success()/failure()/always()/cancelled().
 * `${{ … }}` expressions are evaluated by @actions/expressions over exactly the contexts given (github,
 * inputs, vars, secrets, env, matrix, steps, needs); an unknown context, function or key throws: the
 * harness never substitutes something it does not know. `uses:` steps run only through an emulation
 * the caller names (e.g. checkout: the repository is already there); any other `uses:` throws.
 * Unsupported syntax (shell:, working-directory:, matrix include/exclude, container:, services:) throws.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Evaluator, Lexer, Parser, data } from '@actions/expressions';
import { NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { parse } from 'yaml';

export type JobResult = 'success' | 'failure' | 'skipped';

export interface StepContext {
  readonly cwd: string;
  readonly env: Record<string, string>;
  readonly with: Readonly<Record<string, string>>;
}

export interface GithubRunOptions {
  readonly file: string;
  /** The checkout (GITHUB_WORKSPACE). */
  readonly cwd: string;
  readonly event: 'schedule' | 'workflow_dispatch';
  readonly inputs?: Readonly<Record<string, string>>;
  readonly secrets: Readonly<Record<string, string>>;
  readonly vars: Readonly<Record<string, string>>;
  /** The runner's environment (PATH, HOME, …). */
  readonly env: Readonly<Record<string, string>>;
  /** Extra environment per job run (e.g. its own state dir, as separate runners have). */
  readonly jobEnv?: (jobRun: string) => Record<string, string>;
  readonly github: { readonly sha: string; readonly run_id: string; readonly repository: string };
  /** `uses:` emulations by action name (owner/repo, no ref); may change the step env (e.g. PATH). */
  readonly uses: Readonly<Record<string, (s: StepContext) => void | Promise<void>>>;
  /** Scratch directory for step scripts and output files. */
  readonly tmp: string;
}

export interface JobRun {
  /** "job" or "job (matrix values)" */
  readonly name: string;
  readonly job: string;
  readonly result: JobResult;
  /** The steps as run: "run: <name or first line>" / "uses: <action>" / "skipped: …". */
  readonly steps: string[];
}

export interface GithubRun {
  readonly jobs: JobRun[];
  readonly log: string;
}

type Ctx = Record<string, unknown>;

const STATUS_FUNCS = ['success', 'failure', 'always', 'cancelled'] as const;

function toData(v: unknown): data.ExpressionData {
  if (v === null || v === undefined) return new data.Null();
  if (typeof v === 'string') return new data.StringData(v);
  if (typeof v === 'number') return new data.NumberData(v);
  if (typeof v === 'boolean') return new data.BooleanData(v);
  if (Array.isArray(v)) return new data.Array(...v.map(toData));
  const d = new data.Dictionary();
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) d.add(k, toData(x));
  return d;
}

/** An evaluator that throws on a key its context does not have, instead of yielding null. */
class StrictEvaluator extends Evaluator {
  constructor(
    n: ConstructorParameters<typeof Evaluator>[0],
    ctx: data.Dictionary,
    funcs: ConstructorParameters<typeof Evaluator>[2],
    private readonly source: string,
  ) {
    super(n, ctx, funcs);
  }
  override visitIndexAccess(ia: Parameters<Evaluator['visitIndexAccess']>[0]): data.ExpressionData {
    const obj = this.eval(ia.expr);
    const idx = this.eval(ia.index);
    if (obj instanceof data.Dictionary && idx instanceof data.StringData) {
      const keys = obj.pairs().map((p) => p.key.toLowerCase());
      if (!keys.includes(idx.value.toLowerCase()))
        throw new Error(
          `the harness does not know "${idx.value}" in \${{ ${this.source} }} (known: ${keys.join(', ') || 'none'})`,
        );
    }
    return super.visitIndexAccess(ia);
  }
}

function evaluate(
  expr: string,
  ctx: Ctx,
  status: Record<(typeof STATUS_FUNCS)[number], boolean>,
): data.ExpressionData {
  const lexed = new Lexer(expr).lex();
  const funcs = STATUS_FUNCS.map((name) => ({
    name,
    minArgs: 0,
    maxArgs: 0,
    call: () => new data.BooleanData(status[name]),
  }));
  const tree = new Parser(lexed.tokens, Object.keys(ctx), funcs).parse();
  const dict = toData(ctx) as data.Dictionary;
  return new StrictEvaluator(tree, dict, new Map(funcs.map((f) => [f.name, f])), expr).evaluate();
}

/** GitHub's truthiness: null/false/0/NaN/'' are false, everything else (arrays, objects) true. */
function truthy(d: data.ExpressionData): boolean {
  if (d instanceof data.Null) return false;
  if (d instanceof data.BooleanData) return d.value;
  if (d instanceof data.NumberData) return d.value !== 0 && !Number.isNaN(d.value);
  if (d instanceof data.StringData) return d.value !== '';
  return true;
}

function substitute(text: string, ctx: Ctx, status: Parameters<typeof evaluate>[2]): string {
  return text.replace(/\$\{\{([\s\S]*?)\}\}/g, (_, e: string) =>
    evaluate(e.trim(), ctx, status).coerceString(),
  );
}

function condition(expr: string | undefined, ctx: Ctx, status: Parameters<typeof evaluate>[2]): boolean {
  if (expr === undefined) return status.success;
  const e = expr
    .trim()
    .replace(/^\$\{\{([\s\S]*)\}\}$/, '$1')
    .trim();
  // As GitHub does: a condition without a status function is implicitly `success() && (…)`.
  const hasStatus = /\b(success|failure|always|cancelled)\s*\(/.test(e);
  const v = truthy(evaluate(e, ctx, status));
  return hasStatus ? v : status.success && v;
}

function parseKeyValueFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) body.push(lines[i]!);
      out[heredoc[1]!] = body.join('\n');
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`malformed line in GITHUB_OUTPUT/GITHUB_ENV: ${line}`);
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

function runBash(
  script: string,
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn('bash', ['-e', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? 128, output }));
  });
}

const unsupported = (what: string) => {
  throw new Error(`the harness does not support ${what}`);
};

/** Validate the workflow with GitHub's parser; returns the parsed YAML or throws every error. */
export async function validateWorkflow(file: string): Promise<Record<string, any>> {
  const content = await readFile(file, 'utf8');
  const r = parseWorkflow({ name: file, content }, new NoOperationTraceWriter());
  const errors = r.context.errors.getErrors().map((e) => e.message);
  if (errors.length > 0 || r.value === undefined)
    throw new Error(`workflow does not parse:\n${errors.join('\n')}`);
  return parse(content) as Record<string, any>;
}

/** Run every job of the workflow in `needs:` order; see the file comment for what is emulated. */
export async function runGithubWorkflow(o: GithubRunOptions): Promise<GithubRun> {
  const wf = await validateWorkflow(o.file);
  const jobs = wf.jobs as Record<string, any>;
  const declared = (wf.on?.workflow_dispatch?.inputs ?? {}) as Record<string, { default?: string }>;
  const inputs: Record<string, string> = {};
  if (o.event === 'workflow_dispatch')
    for (const [k, v] of Object.entries(declared)) inputs[k] = o.inputs?.[k] ?? v.default ?? '';
  const github = {
    ...o.github,
    workspace: o.cwd,
    event_name: o.event,
    server_url: 'https://github.com',
    ref: 'refs/heads/main',
  };
  const base: Ctx = { github, inputs, vars: o.vars, secrets: o.secrets };
  const ok = { success: true, failure: false, always: true, cancelled: false };
  const wfEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries((wf.env ?? {}) as Record<string, unknown>))
    wfEnv[k] = substitute(String(v), base, ok);

  const results = new Map<string, { result: JobResult; outputs: Record<string, string> }>();
  const runs: JobRun[] = [];
  let log = '';
  const pending = new Set(Object.keys(jobs));
  await mkdir(o.tmp, { recursive: true });
  while (pending.size > 0) {
    const ready = [...pending].find((j) =>
      ([jobs[j].needs ?? []].flat() as string[]).every((n) => results.has(n)),
    );
    if (!ready) throw new Error(`jobs with unmet or circular needs: ${[...pending].join(', ')}`);
    pending.delete(ready);
    const job = jobs[ready];
    for (const k of ['container', 'services', 'defaults']) if (k in job) unsupported(`jobs.${ready}.${k}`);
    const needsList = [job.needs ?? []].flat() as string[];
    const needs: Record<string, { result: string; outputs: Record<string, string> }> = {};
    for (const n of needsList) needs[n] = results.get(n)!;
    const status = {
      success: needsList.every((n) => needs[n]!.result === 'success'),
      failure: needsList.some((n) => needs[n]!.result === 'failure'),
      always: true,
      cancelled: false,
    };
    const matrixSpec = (job.strategy?.matrix ?? null) as Record<string, unknown[]> | null;
    if (matrixSpec && ('include' in matrixSpec || 'exclude' in matrixSpec))
      unsupported('matrix include/exclude');
    let legs: Record<string, unknown>[] = [{}];
    for (const [k, values] of Object.entries(matrixSpec ?? {}))
      legs = legs.flatMap((l) => values.map((v) => ({ ...l, [k]: v })));

    const jobCtx: Ctx = { ...base, needs, env: wfEnv };
    if (!condition(job.if as string | undefined, jobCtx, status)) {
      results.set(ready, { result: 'skipped', outputs: {} });
      runs.push({ name: ready, job: ready, result: 'skipped', steps: [] });
      continue;
    }
    const legResults: JobResult[] = [];
    const outputs: Record<string, string> = {};
    for (const matrix of legs) {
      const name = matrixSpec ? `${ready} (${Object.values(matrix).join(', ')})` : ready;
      const dir = await mkdtemp(join(o.tmp, `${ready}-`));
      let env: Record<string, string> = {
        ...o.env,
        ...o.jobEnv?.(name),
        CI: 'true',
        GITHUB_ACTIONS: 'true',
        GITHUB_WORKSPACE: o.cwd,
        GITHUB_SHA: o.github.sha,
        GITHUB_RUN_ID: o.github.run_id,
        GITHUB_REPOSITORY: o.github.repository,
        GITHUB_EVENT_NAME: o.event,
        GITHUB_JOB: ready,
        RUNNER_TEMP: dir,
        ...wfEnv,
      };
      const steps: Record<string, { outputs: Record<string, string>; outcome: string }> = {};
      const ran: string[] = [];
      let failed = false;
      const ctxFor = (): Ctx => ({
        ...base,
        needs,
        matrix,
        steps,
        env,
        job: { status: failed ? 'failure' : 'success' },
      });
      if (job.env)
        for (const [k, v] of Object.entries(job.env as Record<string, unknown>))
          env[k] = substitute(String(v), ctxFor(), ok);
      for (const [i, step] of (job.steps as Record<string, any>[]).entries()) {
        for (const k of ['shell', 'working-directory', 'continue-on-error'])
          if (k in step) unsupported(`steps[].${k} (jobs.${ready}.steps[${i}])`);
        const stepStatus = { success: !failed, failure: failed, always: true, cancelled: false };
        const label = String(step.name ?? step.uses ?? String(step.run).split('\n')[0]);
        if (!condition(step.if as string | undefined, ctxFor(), stepStatus)) {
          ran.push(`skipped: ${label}`);
          continue;
        }
        const stepEnv: Record<string, string> = { ...env };
        for (const [k, v] of Object.entries((step.env ?? {}) as Record<string, unknown>))
          stepEnv[k] = substitute(String(v), ctxFor(), stepStatus);
        if (step.uses) {
          const action = String(step.uses).replace(/@.*$/, '');
          const emulate = o.uses[action];
          if (!emulate) throw new Error(`no emulation for uses: ${step.uses} (jobs.${ready})`);
          const w: Record<string, string> = {};
          for (const [k, v] of Object.entries((step.with ?? {}) as Record<string, unknown>))
            w[k] = substitute(String(v), ctxFor(), stepStatus);
          await emulate({ cwd: o.cwd, env, with: w });
          ran.push(`uses: ${action}`);
          if (step.id) steps[step.id] = { outputs: {}, outcome: 'success' };
          continue;
        }
        const outFile = join(dir, `output-${i}`);
        const envFile = join(dir, `env-${i}`);
        await writeFile(outFile, '');
        await writeFile(envFile, '');
        const script = join(dir, `step-${i}.sh`);
        await writeFile(script, substitute(String(step.run), ctxFor(), stepStatus));
        const r = await runBash(script, o.cwd, { ...stepEnv, GITHUB_OUTPUT: outFile, GITHUB_ENV: envFile });
        log += `::group::${name} / ${label}\n${r.output}::endgroup:: exit ${r.code}\n`;
        ran.push(`run: ${label}`);
        const stepOutputs = parseKeyValueFile(await readFile(outFile, 'utf8'));
        env = { ...env, ...parseKeyValueFile(await readFile(envFile, 'utf8')) };
        if (step.id) steps[step.id] = { outputs: stepOutputs, outcome: r.code === 0 ? 'success' : 'failure' };
        if (r.code !== 0) failed = true;
      }
      for (const [k, v] of Object.entries((job.outputs ?? {}) as Record<string, unknown>))
        outputs[k] = substitute(String(v), ctxFor(), ok);
      const result: JobResult = failed ? 'failure' : 'success';
      legResults.push(result);
      runs.push({ name, job: ready, result, steps: ran });
    }
    results.set(ready, { result: legResults.includes('failure') ? 'failure' : 'success', outputs });
  }
  return { jobs: runs, log };
}
