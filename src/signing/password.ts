/**
 * Getting a key password (edge: env, terminal): `COSIGN_PASSWORD` when set (even empty, as cosign
 * does), else a no-echo prompt on a terminal. Never logged, never in errors.
 */
import { AiboxError } from '../core/errors.js';
import { registerSecret } from '../core/redact.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface PasswordOptions {
  readonly env: Env;
  /** Password that came with the key (Vault `cosign.password`); wins over the environment. */
  readonly stored?: string | undefined;
  /** Ask twice and compare (key generation). */
  readonly confirm?: boolean;
  /** What the password is for, shown in the prompt. */
  readonly purpose: string;
  /** Terminal prompt; default reads stdin in raw mode when it is a TTY. */
  readonly prompt?: (question: string) => Promise<string>;
}

/**
 * The password to use, from the key source, `COSIGN_PASSWORD`, or a terminal prompt. Whatever it
 * returns is registered with core/redact first, so no message can carry it.
 */
export async function getPassword(opts: PasswordOptions): Promise<string> {
  const pw = await readPassword(opts);
  registerSecret(pw);
  return pw;
}

async function readPassword(opts: PasswordOptions): Promise<string> {
  if (opts.stored !== undefined) return opts.stored;
  const fromEnv = opts.env.COSIGN_PASSWORD;
  if (fromEnv !== undefined) return fromEnv;
  const prompt = opts.prompt ?? (process.stdin.isTTY ? promptHidden : undefined);
  if (!prompt) {
    throw new AiboxError({
      code: 'KEY_PASSWORD',
      message: `no password for ${opts.purpose}: COSIGN_PASSWORD is not set and there is no terminal to ask on`,
      hint: 'Set COSIGN_PASSWORD (an empty value means an empty password), as for cosign',
    });
  }
  const first = await prompt(`Enter password for ${opts.purpose}: `);
  registerSecret(first);
  if (opts.confirm) {
    const again = await prompt('Enter password again: ');
    registerSecret(again);
    if (again !== first)
      throw new AiboxError({
        code: 'KEY_PASSWORD',
        message: 'passwords do not match',
        hint: 'Run the command again',
      });
  }
  return first;
}

/** Read one line from the terminal without echoing it. */
export function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    let value = '';
    const wasRaw = stdin.isRaw;
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(wasRaw);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          done();
          return;
        }
        if (ch === '\u0003') {
          done(new AiboxError({ code: 'KEY_PASSWORD', message: 'password prompt interrupted' }));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
