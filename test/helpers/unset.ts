/**
 * A suite variable declared `let reg: TestRegistry` and assigned in `beforeAll` is still `undefined` in
 * `afterAll` when `beforeAll` failed part-way, though TypeScript types it `TestRegistry`. Cleanup code says
 * so with `await maybeUnset(reg)?.stop()`: it stops what did start and skips what did not.
 */
export function maybeUnset<T>(value: T): T | undefined {
  return value;
}
