/**
 * Test helper: the engine settings for this host, read from profiles/local/aibox.yaml (the single
 * place where host quirks such as runc/cgroupfs/ulimits are written).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createExec } from '../../src/adapters/exec.js';
import { parsePlatformConfigText } from '../../src/config/parse.js';
import type { EngineSettings } from '../../src/config/schema.js';
import { Podman } from '../../src/engine/podman.js';

/** Path of the local profile config. */
export const LOCAL_PROFILE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'profiles',
  'local',
  'aibox.yaml',
);

/** Engine settings from the local profile (AIBOX_TEST_PODMAN overrides the binary). */
export function testEngineSettings(): EngineSettings {
  const config = parsePlatformConfigText(readFileSync(LOCAL_PROFILE, 'utf8'), LOCAL_PROFILE);
  const podman = process.env.AIBOX_TEST_PODMAN;
  return podman ? { ...config.engine, podman } : config.engine;
}

/** A Podman adapter with the local profile's settings and a real Exec. */
export function testPodman(): Podman {
  return new Podman(testEngineSettings(), createExec());
}

/** A unique id for labelling (dev.aibox.run-id) and naming what one test file creates. */
export function testRunId(prefix = 't'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}
