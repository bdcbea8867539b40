/**
 * Logging goes to stderr only; stdout carries results. Libraries take a Logger and stay silent
 * unless one is passed (the default is `silentLogger`).
 */
import { sanitize } from './redact.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * A logger that writes `level: message` lines to a stream (stderr by default). Every line goes
 * through `sanitize` (core/redact): log messages quote remote text and URLs.
 */
export function streamLogger(
  level: LogLevel,
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const at = (l: LogLevel) => (msg: string) => {
    if (order[l] >= order[level]) write(l === 'info' ? `${sanitize(msg)}\n` : `${l}: ${sanitize(msg)}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
