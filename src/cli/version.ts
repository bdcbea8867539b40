/** The package version, injected by the bundler; falls back for source runs (tsx, vitest). */
declare const __AIBOX_VERSION__: string | undefined;
export const VERSION: string = typeof __AIBOX_VERSION__ === 'string' ? __AIBOX_VERSION__ : '0.0.0-dev';
