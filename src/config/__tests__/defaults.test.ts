import { describe, expect, it } from 'vitest';
import * as model from '../model.js';
import { validateDeveloperConfig, validatePlatformConfig } from '../schema.js';

// The defaults are constants in model.ts so that commands without a config file never load the
// schema; they must stay exactly what the schema produces for an empty file.
describe('built-in defaults', () => {
  it('the platform constant equals what the schema makes of an empty file', () => {
    expect(model.defaultPlatformConfig()).toStrictEqual(validatePlatformConfig(undefined));
    expect(model.defaultPlatformConfig()).toStrictEqual(validatePlatformConfig({}));
  });

  it('the developer constant equals what the schema makes of an empty file', () => {
    expect(model.defaultDeveloperConfig()).toStrictEqual(validateDeveloperConfig(undefined));
  });

  it('fills a partial section with the same per-key defaults', () => {
    const c = validatePlatformConfig({ engine: { podman: 'podman' }, registry: { project: 'aibox' } });
    expect(c.engine).toStrictEqual(model.defaultPlatformConfig().engine);
    expect(c.registry).toStrictEqual(model.defaultPlatformConfig().registry);
  });
});
