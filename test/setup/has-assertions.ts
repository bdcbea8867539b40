// Suite-wide: a test that makes no assertion fails ("expected any number of assertion, but got none").
// A test that cannot fail proves nothing; tests that skip themselves (ctx.skip()) are not affected.
import { beforeEach, expect } from 'vitest';

beforeEach(() => {
  expect.hasAssertions();
});
